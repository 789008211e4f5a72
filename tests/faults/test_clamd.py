"""clamd stopped, or frozen so that it accepts a scan and never answers.

Uploads are still taken (the customer's file is safe in storage), but no file
is ever marked clean without clamd's word: under ``PORTAL_SCAN_POLICY=hold``
(production's default) it cannot be downloaded, and under ``allow`` it is
served as not checked, never as clean. When clamd is back, a rescan gives the
real verdict, including for a virus uploaded during the outage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.accounts.models import User
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import services
from portal.documents.models import Document, DocumentVersion, ScanStatus
from portal.documents.tests import samples
from tests.clamd import ClamdServer, clamd, eicar

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanner(settings: Any) -> Iterator[ClamdServer]:
    with clamd() as server:
        settings.PORTAL_CLAMD_SOCKET = str(server.socket)
        settings.PORTAL_SCANNER = {
            "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
            # Short, so that a frozen clamd costs the test little; clamd answers a
            # small file in milliseconds when it runs.
            "OPTIONS": {"address": str(server.socket), "timeout": 2},
        }
        settings.PORTAL_SCAN_POLICY = "hold"
        yield server


@pytest.fixture
def member() -> User:
    return make_member(make_customer("Acme Ltd"), Role.MEMBER)


def _upload(client: Client, commit: Any, name: str, content: bytes) -> DocumentVersion:
    """Upload through the page, as a browser does; the scan task runs after the commit."""
    with commit(execute=True):
        response = client.post(
            "/documents/upload/",
            {"files": SimpleUploadedFile(name, content, "application/pdf")},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 200, response.content
    [result] = response.json()["files"]
    assert result["ok"], result
    document_id = int(result["url"].strip("/").rsplit("/", 1)[1])
    version = Document.objects.get(pk=document_id).current_version
    assert version is not None
    return version


def _download(client: Client, version: DocumentVersion) -> Any:
    url = f"/documents/{version.document_id}/versions/{version.number}/download/"
    response: Any = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)  # closes the file
    return response


def test_clamd_down_or_frozen_holds_uploads_never_marks_them_clean(
    client: Client,
    member: User,
    scanner: ClamdServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    commit = django_capture_on_commit_callbacks
    client.force_login(member)
    before = _upload(client, commit, "before.pdf", samples.PDF)
    before.refresh_from_db()
    assert before.scan_status == ScanStatus.CLEAN  # the scanner works

    scanner.stop()
    stopped = _upload(client, commit, "stopped.pdf", samples.PDF)
    virus = _upload(client, commit, "virus.pdf", samples.PDF + eicar())
    scanner.start()
    scanner.freeze()
    try:
        frozen = _upload(client, commit, "frozen.pdf", samples.PDF)
    finally:
        scanner.thaw()

    held = [stopped, virus, frozen]
    for version in held:
        version.refresh_from_db()
        assert version.scan_status == ScanStatus.FAILED, version.scan_detail
        assert version.scanned_at is not None and version.scan_detail
        # Held: the file is there but nobody can download it.
        assert _download(client, version).status_code == 403
    assert "not reachable" in stopped.scan_detail

    # Under "allow" the same files are served as unchecked, still not as clean.
    settings.PORTAL_SCAN_POLICY = "allow"
    assert _download(client, stopped).status_code == 200
    settings.PORTAL_SCAN_POLICY = "hold"

    # clamd answers again: a rescan (the back office's action) gives the verdict.
    for version in held:
        with commit(execute=True):
            services.document_version_rescan(version=version)
    verdicts = {}
    for version in held:
        version.refresh_from_db()
        verdicts[version.file_name] = version.scan_status
    assert verdicts == {
        "stopped.pdf": ScanStatus.CLEAN,
        "virus.pdf": ScanStatus.INFECTED,
        "frozen.pdf": ScanStatus.CLEAN,
    }
    assert _download(client, stopped).status_code == 200
    assert _download(client, virus).status_code == 403
    settings.PORTAL_SCAN_POLICY = "allow"
    assert _download(client, virus).status_code == 403  # infected: never, whatever the policy
