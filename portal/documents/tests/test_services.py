"""The upload pipeline, scanning, versions, trash and purge."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from portal.accounts.models import User
from portal.core.models import AuditAction, AuditEvent
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import selectors, services, storage
from portal.documents.models import Document, DocumentVersion, ScanStatus, Source
from portal.documents.scanners import ScanResult, Verdict
from portal.live.models import LiveEvent, Notification
from tests.clamd import eicar

from . import samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme() -> Customer:
    return make_customer("Acme Ltd")


@pytest.fixture
def member(acme: Customer) -> User:
    return make_member(acme, Role.MEMBER)


_capture: Any = None


@pytest.fixture(autouse=True)
def _commits(django_capture_on_commit_callbacks: Any) -> None:
    global _capture
    _capture = django_capture_on_commit_callbacks


def commit() -> Any:
    """A block whose on-commit callbacks (tasks, live wake-ups) run at its end."""
    return _capture(execute=True)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(customer: Customer, user: User, name: str, content: bytes, **kwargs: Any) -> Any:
    with commit():
        return services.document_upload(
            customer=customer, uploaded_by=user, file=samples.upload(name, content), **kwargs
        )


def fresh(version: DocumentVersion) -> DocumentVersion:
    return DocumentVersion.objects.get(pk=version.pk)


# --- Scanning with a real clamd ------------------------------------------------


@pytest.mark.usefixtures("clamd")
def test_a_clean_file_becomes_downloadable(acme: Customer, member: User) -> None:
    version = fresh(upload(acme, member, "scan.pdf", samples.PDF))
    assert version.scan_status == ScanStatus.CLEAN
    assert version.is_downloadable
    handle = services.document_version_open(version=version, user=member)
    with handle:
        assert handle.read() == samples.PDF
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DOWNLOADED).count() == 1


@pytest.mark.usefixtures("clamd")
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("eicar.txt", eicar()),
        ("bundle.zip", samples.zip_bytes({"readme.txt": b"hi", "eicar.com": eicar()})),
        ("log.txt", b"line one\n" * 5000 + eicar() + b"\nline two\n" * 5000),
    ],
    ids=["plain", "zipped", "inside-other-data"],
)
def test_eicar_is_caught_and_quarantined(
    acme: Customer, member: User, name: str, content: bytes, settings: Any
) -> None:
    settings.PORTAL_SCAN_POLICY = "allow"  # even the lenient policy never lets it out
    version = fresh(upload(acme, member, name, content))
    assert version.scan_status == ScanStatus.INFECTED
    assert version.scan_detail.startswith("Portal.Test.EICAR")
    assert not version.is_downloadable
    with pytest.raises(ValidationError):
        services.document_version_open(version=version, user=member)
    quarantine = AuditEvent.objects.get(action=AuditAction.DOCUMENT_QUARANTINED)
    assert quarantine.customer == acme
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DOWNLOADED).exists()


@pytest.mark.usefixtures("clamd")
def test_the_scan_result_is_a_live_event_with_an_announcement(acme: Customer, member: User) -> None:
    version = upload(acme, member, "scan.pdf", samples.PDF)
    event = LiveEvent.objects.filter(kind="document.scanned").get()
    assert event.topic == f"document:{version.document_id}"
    assert event.customer == acme
    assert event.permission == "documents.view"
    assert event.data["status"] == "clean"
    assert "scan.pdf" in event.data["announce"]


def test_an_unreachable_scanner_fails_the_scan_and_holds_under_hold(
    acme: Customer, member: User, settings: Any
) -> None:
    settings.PORTAL_SCANNER = {
        "BACKEND": "portal.documents.scanners.clamd.ClamdScanner",
        "OPTIONS": {"address": "/nonexistent/clamd.sock", "timeout": 1},
    }
    settings.PORTAL_SCAN_POLICY = "hold"
    version = fresh(upload(acme, member, "scan.pdf", samples.PDF))
    assert version.scan_status == ScanStatus.FAILED
    assert not version.is_downloadable
    settings.PORTAL_SCAN_POLICY = "allow"
    assert version.is_downloadable


def test_without_a_scanner_files_are_not_scanned_and_the_policy_decides(
    acme: Customer, member: User, settings: Any
) -> None:
    version = fresh(upload(acme, member, "scan.pdf", samples.PDF))
    assert version.scan_status == ScanStatus.NOT_SCANNED
    settings.PORTAL_SCAN_POLICY = "hold"
    assert not version.is_downloadable
    settings.PORTAL_SCAN_POLICY = "allow"
    assert version.is_downloadable


def test_a_pending_version_follows_the_policy(acme: Customer, member: User, settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    version = fresh(upload(acme, member, "scan.pdf", samples.PDF))
    assert version.scan_status == ScanStatus.PENDING
    settings.PORTAL_SCAN_POLICY = "hold"
    assert not version.is_downloadable
    settings.PORTAL_SCAN_POLICY = "allow"
    assert version.is_downloadable


def test_the_scan_task_is_safe_to_run_twice(
    acme: Customer, member: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    version = upload(acme, member, "scan.pdf", samples.PDF)
    calls = []

    class CountingScanner:
        def scan(self, chunks: Any) -> ScanResult:
            calls.append(b"".join(chunks))
            return ScanResult(Verdict.CLEAN)

    monkeypatch.setattr(services, "get_scanner", CountingScanner)
    services.document_version_scan(version_id=version.pk)
    services.document_version_scan(version_id=version.pk)
    assert calls == [samples.PDF]
    assert LiveEvent.objects.filter(kind="document.scanned").count() == 1
    assert services.document_version_scan(version_id=999_999) is None


def test_a_rescan_checks_again(acme: Customer, member: User) -> None:
    version = fresh(upload(acme, member, "scan.pdf", samples.PDF))
    with commit():
        services.document_version_rescan(version=version)
    assert fresh(version).scan_status == ScanStatus.NOT_SCANNED
    assert LiveEvent.objects.filter(kind="document.scanned").count() == 2


# --- Refusals leave nothing stored ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("invoice.pdf", samples.HTML, "invoice.pdf cannot be uploaded: its content is web page"),
        ("invoice.pdf", samples.EXE, "invoice.pdf cannot be uploaded: its content is program"),
        ("big.pdf", samples.PDF + b"\0" * 2000, "big.pdf is too large: files may be at most"),
    ],
    ids=["html-named-pdf", "renamed-executable", "oversize"],
)
def test_refused_files_leave_nothing_stored(
    acme: Customer,
    member: User,
    document_root: Path,
    settings: Any,
    name: str,
    content: bytes,
    message: str,
) -> None:
    settings.PORTAL_DOCUMENT_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as refused:
        upload(acme, member, name, content)
    assert refused.value.messages[0].startswith(message)
    assert not Document.objects.exists()
    assert not DocumentVersion.objects.exists()
    assert stored_files(document_root) == []
    assert not LiveEvent.objects.exists()


def test_a_quota_overrun_is_refused_and_leaves_nothing_stored(
    acme: Customer, member: User, document_root: Path, settings: Any
) -> None:
    settings.PORTAL_DOCUMENT_QUOTA_BYTES = len(samples.PDF) * 2 + 10
    upload(acme, member, "one.pdf", samples.PDF)
    upload(acme, member, "two.pdf", samples.PDF)
    with pytest.raises(ValidationError) as refused:
        upload(acme, member, "three.pdf", samples.PDF)
    assert refused.value.code == "quota"
    assert "three.pdf" in refused.value.messages[0]
    assert "does not fit: Acme Ltd uses" in refused.value.messages[0]
    assert Document.objects.count() == 2
    assert len(stored_files(document_root)) == 2
    # Another customer has its own quota.
    upload(make_customer("Globex"), member, "three.pdf", samples.PDF)


def test_the_quota_counts_versions_and_the_trash(
    acme: Customer, member: User, settings: Any
) -> None:
    version = upload(acme, member, "one.pdf", samples.PDF)
    with commit():
        services.document_version_add(
            document=version.document, uploaded_by=member, file=samples.upload("b.pdf", samples.PDF)
        )
        services.document_trash(document=version.document, actor=member)
    assert selectors.customer_storage_used(customer=acme) == 2 * len(samples.PDF)


def test_a_path_traversal_name_is_harmless(
    acme: Customer, member: User, document_root: Path, tmp_path: Path
) -> None:
    version = upload(acme, member, "../../../outside/evil.pdf", samples.PDF)
    assert version.file_name == "evil.pdf"
    assert version.document.title == "evil.pdf"
    assert "evil" not in version.storage_key and ".." not in version.storage_key
    files = stored_files(document_root)
    assert len(files) == 1 and files[0].is_relative_to(document_root)
    assert not (tmp_path / "outside").exists()


def test_files_are_stored_under_random_keys(acme: Customer, member: User) -> None:
    one = upload(acme, member, "same.pdf", samples.PDF)
    two = upload(acme, member, "same.pdf", samples.PDF)
    assert one.storage_key != two.storage_key
    assert one.storage_key.startswith("documents/") and len(one.storage_key) > 40
    assert one.sha256 == two.sha256


class BreaksMidway(FileSystemStorage):
    """A storage whose copy breaks after the first chunk, like a lost connection."""

    def _save(self, name: str, content: Any) -> str:
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            for chunk in content.chunks(chunk_size=1024):
                handle.write(chunk)
                raise ConnectionResetError("the storage went away")
        return name


def test_an_upload_interrupted_midway_leaves_no_document_and_no_file(
    acme: Customer, member: User, document_root: Path, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": f"{__name__}.BreaksMidway",
            "OPTIONS": {"location": str(document_root)},
        },
    }
    with pytest.raises(ConnectionResetError):
        upload(acme, member, "big.pdf", samples.PDF + b"\0" * 10_000)
    assert not Document.objects.exists()
    assert stored_files(document_root) == []


def test_a_failure_after_storing_removes_the_file(
    acme: Customer, member: User, document_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", broken)
    with pytest.raises(RuntimeError):
        upload(acme, member, "scan.pdf", samples.PDF)
    assert not Document.objects.exists()
    assert stored_files(document_root) == []


def test_files_left_by_a_crash_are_swept_after_the_grace_period(
    acme: Customer, member: User, document_root: Path
) -> None:
    kept = upload(acme, member, "kept.pdf", samples.PDF)
    # A process that died between storing and committing leaves a file behind.
    orphan = storage.new_key()
    storage.store(key=orphan, file=samples.upload("x.pdf", samples.PDF))
    assert services.documents_purge().orphans == 0  # young: perhaps still uploading
    result = services.documents_purge(now=timezone.now() + timedelta(days=2))
    assert result.orphans == 1
    assert not storage.exists(orphan)
    assert storage.exists(kept.storage_key)


# --- Versions, sharing, library ------------------------------------------------------


def test_a_new_upload_to_a_document_is_a_version(acme: Customer, member: User) -> None:
    first = upload(acme, member, "contract.pdf", samples.PDF)
    with commit():
        second = services.document_version_add(
            document=first.document,
            uploaded_by=member,
            file=samples.upload("contract-signed.pdf", samples.PDF + b"%signed"),
        )
    document = Document.objects.get()
    assert [v.number for v in selectors.document_versions(document=document)] == [2, 1]
    assert document.current_version == second
    assert second.file_name == "contract-signed.pdf"
    assert document.title == "contract.pdf"


def test_staff_sharing_notifies_members_once_scanned(acme: Customer, member: User) -> None:
    billing = make_member(acme, Role.BILLING)
    admin = make_member(acme, Role.ADMIN)
    staff = make_member(make_customer("Staff Co"), Role.ADMIN, is_staff="1")
    with commit():
        version = services.document_share(
            customer=acme, shared_by=staff, file=samples.upload("statement.pdf", samples.PDF)
        )
    assert version.document.source == Source.STAFF
    notified = set(Notification.objects.values_list("user__email", flat=True))
    assert notified == {member.email, admin.email}  # billing may not see documents
    assert billing.email not in notified
    assert Notification.objects.filter(kind="document", title="New document: statement.pdf")
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_SHARED).count() == 1


@pytest.mark.usefixtures("clamd")
def test_an_infected_staff_document_notifies_nobody(acme: Customer, member: User) -> None:
    staff = make_member(make_customer("Staff Co"), Role.ADMIN)
    with commit():
        services.document_share(
            customer=acme, shared_by=staff, file=samples.upload("x.txt", eicar())
        )
    assert not Notification.objects.exists()


def test_staff_documents_cannot_be_changed_by_the_customer(acme: Customer, member: User) -> None:
    staff = make_member(make_customer("Staff Co"), Role.ADMIN)
    with commit():
        version = services.document_share(
            customer=acme, shared_by=staff, file=samples.upload("s.pdf", samples.PDF)
        )
    with pytest.raises(ValidationError):
        services.document_update(document=version.document, actor=member, title="x", category=None)
    with pytest.raises(ValidationError):
        services.document_trash(document=version.document, actor=member)


def test_rename_and_move(acme: Customer, member: User) -> None:
    from portal.documents.models import Category

    version = upload(acme, member, "scan.pdf", samples.PDF)
    contracts = Category.objects.get(slug="contracts")
    with commit():
        document = services.document_update(
            document=version.document, actor=member, title="  Lease   2026 ", category=contracts
        )
    assert (document.title, document.category) == ("Lease 2026", contracts)
    with pytest.raises(ValidationError):
        services.document_update(document=document, actor=member, title="  ", category=None)


def test_trash_restore_and_purge_after_thirty_days(
    acme: Customer, member: User, document_root: Path, settings: Any
) -> None:
    version = upload(acme, member, "scan.pdf", samples.PDF)
    document = version.document
    with commit():
        services.document_trash(document=document, actor=member)
    assert not selectors.document_list(user=member, customer=acme).exists()
    assert list(selectors.document_trash_list(user=member, customer=acme)) == [document]
    with commit():
        services.document_restore(document=document, actor=member)
    assert list(selectors.document_list(user=member, customer=acme)) == [document]

    with commit():
        services.document_trash(document=document, actor=member)
    assert services.documents_purge(now=timezone.now() + timedelta(days=29)).documents == 0
    with commit():
        result = services.documents_purge(now=timezone.now() + timedelta(days=31))
    assert result.documents == 1
    assert not Document.objects.exists()
    assert stored_files(document_root) == []
    assert AuditEvent.objects.filter(action=AuditAction.DOCUMENT_PURGED).count() == 1
    assert services.documents_purge(now=timezone.now() + timedelta(days=31)).documents == 0


def test_purge_command(acme: Customer, member: User) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("purge_documents", stdout=out)
    assert "Purged 0 document(s)" in out.getvalue()


def test_documents_of_a_service_request(acme: Customer, member: User) -> None:
    upload(acme, member, "a.pdf", samples.PDF, request_reference="SR-2026-000001")
    upload(acme, member, "b.pdf", samples.PDF, request_reference="SR-2026-000002")
    other = make_customer("Globex")
    upload(other, make_member(other), "c.pdf", samples.PDF, request_reference="SR-2026-000001")
    found = selectors.documents_for_request(user=member, request_reference="SR-2026-000001")
    assert [d.title for d in found] == ["a.pdf"]
    outsider = make_member(make_customer("Initech"))
    assert not selectors.documents_for_request(
        user=outsider, request_reference="SR-2026-000001"
    ).exists()


def test_every_change_is_a_live_event_for_members_who_may_see_documents(
    acme: Customer, member: User
) -> None:
    version = upload(acme, member, "scan.pdf", samples.PDF)
    with commit():
        services.document_update(
            document=version.document, actor=member, title="Renamed", category=None
        )
        services.document_trash(document=version.document, actor=member)
        services.document_restore(document=version.document, actor=member)
    events = LiveEvent.objects.filter(topic=f"document:{version.document_id}").order_by("id")
    assert [e.kind for e in events] == [
        "document.uploaded",
        "document.scanned",
        "document.changed",
        "document.trashed",
        "document.restored",
    ]
    assert {(e.customer_id, e.permission) for e in events} == {(acme.pk, "documents.view")}
