"""The document library in a browser: upload two files with progress, see the virus check's
result arrive without a reload (a real clamd), add a version, download it, use the trash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import expect

from portal.core.tests.factories import TEST_PASSWORD
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import services
from portal.documents.demo import demo_pdf
from portal.documents.models import DocumentVersion, ScanStatus
from tests.clamd import clamd_server

from .conftest import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clamd_socket() -> Iterator[str]:
    with clamd_server() as path:
        yield path


@pytest.fixture
def scanning_later(settings: Any, clamd_socket: str) -> None:
    """Scans are queued, not run at once, so the test decides when they finish."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.PORTAL_SCANNER = {
        "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
        "OPTIONS": {"address": clamd_socket, "timeout": 10},
    }
    settings.PORTAL_SCAN_POLICY = "hold"


def _run_pending_scans() -> int:
    pending = list(
        DocumentVersion.objects.filter(scan_status=ScanStatus.PENDING).values_list("pk", flat=True)
    )
    for version_id in pending:
        with transaction.atomic():
            services.document_version_scan(version_id=version_id)
    return len(pending)


def _sign_in(visit: Any, email: str) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/dashboard/")


@pytest.mark.usefixtures("scanning_later")
def test_upload_scan_version_download_and_trash(visit_factory: Any, tmp_path: Path) -> None:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.MEMBER, email="docs@example.com")
    visit = visit_factory()
    page = visit.page
    _sign_in(visit, "docs@example.com")
    visit.audit("documents-dashboard")

    page.get_by_role("link", name="Documents", exact=True).click()
    page.wait_for_url("**/documents/")
    page.wait_for_selector("body[data-live-state=connected]")
    page.get_by_text("No documents yet.").wait_for()
    visit.audit("documents-empty")

    # Two files at once, each with its own progress bar.
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(demo_pdf("Contract"))
    readings = tmp_path / "readings.csv"
    readings.write_bytes(b"date,reading\n2026-10-01,12345\n")
    page.locator("#upload-files").set_input_files([str(contract), str(readings)])
    page.get_by_role("button", name="Upload", exact=True).click()
    progress = page.locator(".upload-progress li")
    page.get_by_text("readings.csv has been uploaded.").wait_for()
    assert progress.count() == 2
    assert page.locator(".upload-progress progress").evaluate_all(
        "bars => bars.map(b => b.value)"
    ) == [100, 100]
    rows = page.locator("#document-list tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    assert page.locator("#document-list .status").all_inner_texts() == ["Checking", "Checking"]
    visit.audit("documents-uploaded")

    # The virus check finishes in the background; the open page shows it without a reload.
    page.evaluate("window.portalMarker = 'same page'")
    assert _run_pending_scans() == 2
    expect(page.locator("#document-list .status")).to_have_text(["Clean", "Clean"], timeout=5000)
    assert page.evaluate("window.portalMarker") == "same page"
    assert "no virus found" in page.locator("#live-announcer").inner_text()
    visit.audit("documents-scanned")

    # A new version of the contract.
    page.get_by_role("link", name="contract.pdf", exact=True).click()
    page.wait_for_url("**/documents/*/")
    page.wait_for_selector("body[data-live-state=connected]")
    visit.audit("document-detail")
    signed = tmp_path / "contract-signed.pdf"
    signed.write_bytes(demo_pdf("Contract, signed"))
    page.locator("#version-file").set_input_files(str(signed))
    page.get_by_role("button", name="Upload version").click()
    page.get_by_text("Version 2 has been uploaded.").wait_for()
    page.locator("#document-versions tr[data-version='2']").wait_for()
    assert page.get_by_role("link", name="Download version 2").count() == 0  # held until clean
    page.evaluate("window.portalMarker = 'same page'")
    assert _run_pending_scans() == 1
    download_link = page.get_by_role("link", name="Download version 2")
    download_link.wait_for(timeout=5000)
    assert page.evaluate("window.portalMarker") == "same page"
    visit.audit("document-version-2")

    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename == "contract-signed.pdf"
    assert Path(download.path()).read_bytes() == signed.read_bytes()

    # Into the trash, with a confirmation first, and back.
    page.get_by_role("link", name="Move to trash…").click()
    page.wait_for_url("**/delete/")
    visit.audit("document-delete-confirm")
    page.get_by_role("button", name="Move to trash").click()
    page.wait_for_url("**/documents/")
    page.get_by_text("contract.pdf has been moved to the trash.").wait_for()
    page.get_by_role("link", name="Trash").click()
    page.wait_for_url("**/documents/trash/")
    visit.audit("documents-trash")
    page.get_by_role("button", name="Restore contract.pdf").click()
    page.get_by_text("contract.pdf has been restored.").wait_for()


@pytest.mark.usefixtures("scanning_later")
def test_the_library_on_a_phone(visit_factory: Any) -> None:
    acme = make_customer("Acme Ltd")
    member = make_member(acme, Role.MEMBER, email="phone@example.com")
    with transaction.atomic():
        for name in ("A rather long document title for a narrow screen.pdf", "b.pdf"):
            services.document_upload(
                customer=acme,
                uploaded_by=member,
                file=_file(name),
                request_reference="SR-2026-000123",
            )
    _run_pending_scans()
    visit = visit_factory(PHONE)
    _sign_in(visit, "phone@example.com")
    visit.goto("/documents/")
    visit.audit("documents-library-phone")
    visit.assert_fits_viewport()
    page = visit.page
    page.get_by_text("Search and filter").click()
    visit.audit("documents-filters-phone")
    visit.assert_fits_viewport()

    # Drag and drop: a file dropped on the zone is uploaded like a chosen one.
    dropped = page.evaluate_handle(
        "() => { const data = new DataTransfer();"
        " data.items.add(new File(['date,reading\\n2026-10-01,1\\n'], 'dropped.csv'));"
        " data.items.add(new File(['<html><body>hi</body></html>'], 'fake.pdf'));"
        " return data; }"
    )
    page.dispatch_event("[data-drop-zone]", "drop", {"dataTransfer": dropped})
    page.get_by_text("dropped.csv has been uploaded.").wait_for()
    refused = page.get_by_role("alert").filter(has_text="fake.pdf cannot be uploaded")
    refused.wait_for()
    assert "web page (HTML)" in refused.inner_text()
    expect(page.locator("#document-list tbody tr")).to_have_count(3)
    visit.audit("documents-dropped-phone")
    visit.assert_fits_viewport()


def _file(name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, demo_pdf(name))
