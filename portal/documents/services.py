"""Every change to documents: upload, versions, scanning, sharing, trash, purge.

The upload pipeline is the one way a file enters the portal (the library, the
back office, and later service-request attachments all call
:func:`document_upload`): size and quota checked, type decided by content,
copied in chunks to storage under a random key, then a scan task queued after
commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import NotificationKind, User
from portal.core import metrics
from portal.core.audit import audit_record
from portal.core.models import AuditAction
from portal.customers.models import Customer, Membership
from portal.customers.roles import Permission
from portal.live.services import live_event_emit, notification_send

from . import filetypes, storage
from .filetypes import FileType, TextCheck
from .models import Category, Document, DocumentVersion, ScanStatus, Source
from .naming import clean_file_name, extension
from .scanners import Verdict, get_scanner
from .selectors import customer_storage_used

logger = logging.getLogger(__name__)

SNIFF_BYTES = 8192


class UploadFile(Protocol):
    """What an upload is: Django's ``UploadedFile`` or any ``File`` with a name."""

    name: str | None

    def chunks(self, chunk_size: int | None = ...) -> Iterator[bytes]: ...
    def seek(self, offset: int, whence: int = ...) -> int: ...
    def read(self, size: int = ...) -> bytes: ...


@dataclass(frozen=True)
class Inspected:
    file_name: str
    size: int
    sha256: str
    file_type: FileType
    content_type: str


# --- Checks -------------------------------------------------------------------


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _size_text(size: int) -> str:
    return str(filesizeformat(size))


def file_too_large_error(name: str) -> ValidationError:
    return _refuse(
        _("%(name)s is too large: files may be at most %(limit)s.")
        % {"name": clean_file_name(name), "limit": _size_text(settings.PORTAL_DOCUMENT_MAX_BYTES)},
        "too_large",
    )


def _inspect(file: UploadFile) -> Inspected:
    """Read the file once, in chunks: its size, SHA-256 and type. Nothing is stored."""
    name = clean_file_name(file.name or "")
    digest = hashlib.sha256()
    text = TextCheck()
    head = b""
    size = 0
    file.seek(0)
    for chunk in file.chunks():
        size += len(chunk)
        if size > settings.PORTAL_DOCUMENT_MAX_BYTES:
            raise file_too_large_error(name)
        digest.update(chunk)
        text.feed(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
    if size == 0:
        raise _refuse(_("%(name)s is empty.") % {"name": name}, "empty")
    is_text = text.finish()
    file_type = filetypes.detect(head, file, is_text=is_text)  # type: ignore[arg-type]
    if file_type is not None and file_type.key == "text":
        file_type = filetypes.text_type_for_name(name)
    allowed = [filetypes.TYPES[key] for key in settings.PORTAL_DOCUMENT_TYPES]
    if file_type is None or file_type not in allowed:
        what = file_type.label if file_type is not None else _("an unknown format")
        raise _refuse(
            _("%(name)s cannot be uploaded: its content is %(what)s. Allowed are: %(allowed)s.")
            % {"name": name, "what": what, "allowed": ", ".join(str(t.label) for t in allowed)},
            "type",
        )
    ext = extension(name)
    if ext and ext not in file_type.extensions:
        claimed = filetypes.known_extensions().get(ext)
        if claimed is not None or file_type.key not in {"text", "csv"}:
            raise _refuse(
                _(
                    "%(name)s is named like a %(claimed)s file, but its content is a "
                    "%(actual)s. Rename it or upload the right file."
                )
                % {
                    "name": name,
                    "claimed": ext.lstrip(".").upper(),
                    "actual": file_type.label,
                },
                "extension",
            )
    elif not ext:
        name = f"{name}{file_type.extensions[0]}"
    content_type = file_type.mime
    if file_type.key in {"text", "csv"}:
        content_type = f"{content_type}; charset={text.charset}"
    file.seek(0)
    return Inspected(
        file_name=name,
        size=size,
        sha256=digest.hexdigest(),
        file_type=file_type,
        content_type=content_type,
    )


def _check_quota(*, customer: Customer, size: int, name: str) -> None:
    used = customer_storage_used(customer=customer)
    quota = settings.PORTAL_DOCUMENT_QUOTA_BYTES
    if used + size > quota:
        raise _refuse(
            _(
                "%(name)s (%(size)s) does not fit: %(customer)s uses %(used)s of its "
                "%(quota)s for documents. Delete documents you no longer need; files in "
                "the trash count until they are purged."
            )
            % {
                "name": name,
                "size": _size_text(size),
                "customer": customer.name,
                "used": _size_text(used),
                "quota": _size_text(quota),
            },
            "quota",
        )


# --- Upload -------------------------------------------------------------------


def document_file_check(*, file: UploadFile) -> Inspected:
    """Check and scan a file kept outside the library (a staff internal note's).

    The same type rules as every upload, and the virus scan at once rather than
    in the background: such a file has no held state, so it is kept only when
    the scanner says clean (or, under ``PORTAL_SCAN_POLICY=allow``, cannot say).
    Raises ``ValidationError`` (``type``, ``too_large``, ``empty``, ``infected``,
    ``scan_failed``); the file is left at its start.
    """
    inspected = _inspect(file)
    file.seek(0)
    result = get_scanner().scan(file.chunks())
    file.seek(0)
    if result.verdict == Verdict.INFECTED:
        logger.warning(
            "internal file refused: infected",
            extra={"file_name": inspected.file_name, "threat": result.detail},
        )
        raise _refuse(
            _("%(name)s was refused: the virus scanner found %(threat)s in it.")
            % {"name": inspected.file_name, "threat": result.detail},
            "infected",
        )
    if result.verdict == Verdict.FAILED and settings.PORTAL_SCAN_POLICY == "hold":
        raise _refuse(
            _("%(name)s could not be checked for viruses just now. Try again in a few minutes.")
            % {"name": inspected.file_name},
            "scan_failed",
        )
    return inspected


def document_upload(
    *,
    customer: Customer,
    uploaded_by: User | None,
    file: UploadFile,
    title: str | None = None,
    category: Category | None = None,
    request_reference: str | None = None,
    source: str = Source.CUSTOMER,
    request: HttpRequest | None = None,
) -> DocumentVersion:
    """Store ``file`` as a new document of ``customer``; returns its first version.

    Raises ``ValidationError`` (with a message for the person and a code:
    ``too_large``, ``empty``, ``type``, ``extension``, ``quota``) and stores
    nothing when the file is refused. The virus scan runs in a background task
    after commit. Service-request attachments pass ``request_reference``.

    Called inside a caller's transaction (e.g. a service-request service), the
    file is copied to storage before that transaction commits; should the
    caller's transaction roll back later, the stored file is an orphan that
    :func:`documents_purge` removes after ``PORTAL_DOCUMENT_ORPHAN_HOURS``.
    """
    inspected = _inspect(file)
    _check_quota(customer=customer, size=inspected.size, name=inspected.file_name)
    key = storage.new_key()
    # The copy happens outside the transaction: a large file must not hold a lock.
    storage.store(key=key, file=file)  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            # Again under the lock: two uploads at once must not both squeeze in.
            _check_quota(customer=customer, size=inspected.size, name=inspected.file_name)
            document = Document.objects.create(
                customer=customer,
                title=_clean_title(title) or inspected.file_name,
                category=category,
                source=Source(source),
                created_by=uploaded_by,
                request_reference=(request_reference or "").strip() or None,
            )
            version = _version_create(
                document=document, inspected=inspected, key=key, uploaded_by=uploaded_by
            )
            audit_record(
                action=(
                    AuditAction.DOCUMENT_SHARED
                    if source == Source.STAFF
                    else AuditAction.DOCUMENT_UPLOADED
                ),
                request=request,
                actor=uploaded_by,
                customer=customer,
                data=_audit_data(version),
            )
    except BaseException:
        _delete_file_quietly(key)
        raise
    return version


def document_version_add(
    *,
    document: Document,
    uploaded_by: User | None,
    file: UploadFile,
    request: HttpRequest | None = None,
) -> DocumentVersion:
    """Add ``file`` as the newest version of ``document``."""
    if document.deleted_at is not None:
        raise _refuse(_("Restore the document from the trash first."), "trashed")
    inspected = _inspect(file)
    customer = document.customer
    _check_quota(customer=customer, size=inspected.size, name=inspected.file_name)
    key = storage.new_key()
    storage.store(key=key, file=file)  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            _check_quota(customer=customer, size=inspected.size, name=inspected.file_name)
            locked = Document.objects.select_for_update().get(pk=document.pk)
            version = _version_create(
                document=locked, inspected=inspected, key=key, uploaded_by=uploaded_by
            )
            audit_record(
                action=AuditAction.DOCUMENT_UPLOADED,
                request=request,
                actor=uploaded_by,
                customer=customer,
                data=_audit_data(version),
            )
    except BaseException:
        _delete_file_quietly(key)
        raise
    document.refresh_from_db()
    return version


def document_share(
    *,
    customer: Customer,
    shared_by: User,
    file: UploadFile,
    title: str | None = None,
    category: Category | None = None,
    request_reference: str | None = None,
    request: HttpRequest | None = None,
) -> DocumentVersion:
    """Staff give ``customer`` a document. Its members are told once it passed the scan."""
    return document_upload(
        customer=customer,
        uploaded_by=shared_by,
        file=file,
        title=title,
        category=category,
        request_reference=request_reference,
        source=Source.STAFF,
        request=request,
    )


def _version_create(
    *, document: Document, inspected: Inspected, key: str, uploaded_by: User | None
) -> DocumentVersion:
    last = document.versions.order_by("-number").values_list("number", flat=True).first()
    version = DocumentVersion.objects.create(
        document=document,
        number=(last or 0) + 1,
        storage_key=key,
        file_name=inspected.file_name,
        size=inspected.size,
        content_type=inspected.content_type,
        sha256=inspected.sha256,
        uploaded_by=uploaded_by,
        scan_status=ScanStatus.PENDING,
    )
    document.current_version = version
    document.updated_at = timezone.now()
    document.save(update_fields=["current_version", "updated_at"])
    _emit(document=document, kind="document.uploaded", version=version)
    version_id = version.pk

    def enqueue() -> None:
        from .tasks import scan_document_version

        scan_document_version.enqueue(version_id=version_id)

    transaction.on_commit(enqueue)
    return version


def _clean_title(title: str | None) -> str:
    return " ".join((title or "").split())[:200]


def _audit_data(version: DocumentVersion) -> dict[str, Any]:
    return {
        "document": version.document_id,
        "version": version.number,
        "title": version.document.title,
        "size": version.size,
        "sha256": version.sha256,
    }


def _delete_file_quietly(key: str) -> None:
    try:
        storage.delete(key)
    except Exception:
        logger.warning("could not delete %s; the orphan sweep will", key, exc_info=True)


def _emit(
    *,
    document: Document,
    kind: str,
    version: DocumentVersion | None = None,
    announce: str = "",
) -> None:
    data: dict[str, Any] = {"document": document.pk}
    if version is not None:
        data.update({"version": version.number, "status": version.scan_status})
    if announce:
        data["announce"] = announce
    live_event_emit(
        kind=kind,
        topic=f"document:{document.pk}",
        customer=document.customer,
        permission=Permission.DOCUMENTS_VIEW,
        data=data,
    )


# --- Scanning -----------------------------------------------------------------


def document_version_scan(*, version_id: int) -> DocumentVersion | None:
    """Scan one version if it still waits for it. Safe to run twice, or for a gone version."""
    version = DocumentVersion.objects.filter(pk=version_id).first()
    if version is None or version.scan_status != ScanStatus.PENDING:
        return version
    scanner = get_scanner()
    try:
        result = scanner.scan(storage.read_chunks(version.storage_key))
    except FileNotFoundError:
        result = None
    with transaction.atomic():
        version = (
            DocumentVersion.objects.select_for_update()
            .select_related("document__customer")
            .filter(pk=version_id)
            .first()
        )
        if version is None or version.scan_status != ScanStatus.PENDING:
            return version  # another run finished first
        if result is None:
            status, detail = ScanStatus.FAILED, "the stored file is missing"
        else:
            status = {
                Verdict.CLEAN: ScanStatus.CLEAN,
                Verdict.INFECTED: ScanStatus.INFECTED,
                Verdict.FAILED: ScanStatus.FAILED,
                Verdict.NOT_SCANNED: ScanStatus.NOT_SCANNED,
            }[result.verdict]
            detail = result.detail
        version.scan_status = status
        version.scan_detail = detail[:200]
        version.scanned_at = timezone.now()
        version.save(update_fields=["scan_status", "scan_detail", "scanned_at"])
        metrics.scan_finished(verdict=str(status))
        document = version.document
        if status == ScanStatus.INFECTED:
            logger.warning(
                "virus found in document %s version %s: %s", document.pk, version.number, detail
            )
            audit_record(
                action=AuditAction.DOCUMENT_QUARANTINED,
                customer=document.customer,
                data={**_audit_data(version), "signature": detail},
            )
        elif status == ScanStatus.FAILED:
            logger.warning(
                "virus check of document %s version %s failed: %s",
                document.pk,
                version.number,
                detail,
            )
        _emit(
            document=document,
            kind="document.scanned",
            version=version,
            announce=_scan_announcement(document=document, status=status),
        )
        if document.source == Source.STAFF and status != ScanStatus.INFECTED:
            _notify_members(document=document, version=version)
    return version


def _scan_announcement(*, document: Document, status: ScanStatus) -> str:
    messages = {
        ScanStatus.CLEAN: _("%(title)s: no virus found, ready to download."),
        ScanStatus.INFECTED: _("%(title)s: a virus was found; the file is quarantined."),
        ScanStatus.FAILED: _("%(title)s: the virus check failed."),
        ScanStatus.NOT_SCANNED: _("%(title)s has been stored."),
        ScanStatus.PENDING: "",
    }
    return messages[status] % {"title": document.title}


def _notify_members(*, document: Document, version: DocumentVersion) -> None:
    url = reverse("documents:detail", args=[document.pk])
    members = Membership.objects.filter(customer=document.customer).select_related("user")
    for membership in members:
        if not membership.allows(Permission.DOCUMENTS_VIEW):
            continue
        user = membership.user
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            if version.number == 1:
                title = _("New document: %(title)s") % {"title": document.title}
            else:
                title = _("New version of %(title)s") % {"title": document.title}
            body = _("%(customer)s has a new document from us in the portal.") % {
                "customer": document.customer.name
            }
        notification_send(
            user=user,
            kind=NotificationKind.DOCUMENT,
            title=title,
            body=body,
            url=url,
            customer=document.customer,
        )


@transaction.atomic
def document_version_rescan(*, version: DocumentVersion) -> DocumentVersion:
    """Check a version again (after a failed scan, or with new signatures)."""
    version = DocumentVersion.objects.select_for_update().get(pk=version.pk)
    version.scan_status = ScanStatus.PENDING
    version.scan_detail = ""
    version.save(update_fields=["scan_status", "scan_detail"])
    version_id = version.pk

    def enqueue() -> None:
        from .tasks import scan_document_version

        scan_document_version.enqueue(version_id=version_id)

    transaction.on_commit(enqueue)
    return version


# --- Download -----------------------------------------------------------------


def document_version_open(
    *, version: DocumentVersion, user: User, request: HttpRequest | None = None
) -> IO[bytes]:
    """Open a version's file for download and write the download to the audit log.

    Raises ``ValidationError`` (code ``unavailable``) for a quarantined file or
    one held until its scan under ``PORTAL_SCAN_POLICY=hold``.
    """
    if not version.is_downloadable:
        raise _refuse(_("This file cannot be downloaded."), "unavailable")
    handle: IO[bytes] = storage.document_storage().open(version.storage_key, "rb")
    audit_record(
        action=AuditAction.DOCUMENT_DOWNLOADED,
        request=request,
        actor=user,
        customer=version.document.customer,
        data={"document": version.document_id, "version": version.number},
    )
    return handle


# --- Library --------------------------------------------------------------------


@transaction.atomic
def document_update(
    *, document: Document, actor: User, title: str, category: Category | None
) -> Document:
    """Rename ``document`` and/or file it under another category."""
    _refuse_staff_documents(document)
    title = _clean_title(title)
    if not title:
        raise _refuse(_("A document needs a title."), "title")
    changed = []
    if title != document.title:
        document.title = title
        changed.append("title")
    if category != document.category:
        document.category = category
        changed.append("category")
    if changed:
        document.updated_at = timezone.now()
        document.save(update_fields=[*changed, "updated_at"])
        _emit(document=document, kind="document.changed")
    return document


def _refuse_staff_documents(document: Document) -> None:
    if document.source == Source.STAFF:
        raise _refuse(
            _("Documents shared by the organisation cannot be changed here."), "staff_document"
        )


@transaction.atomic
def document_trash(
    *, document: Document, actor: User, request: HttpRequest | None = None
) -> Document:
    """Move ``document`` to the trash; it can be restored until it is purged."""
    _refuse_staff_documents(document)
    if document.deleted_at is not None:
        return document
    document.deleted_at = timezone.now()
    document.deleted_by = actor
    document.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        action=AuditAction.DOCUMENT_TRASHED,
        request=request,
        actor=actor,
        customer=document.customer,
        data={"document": document.pk, "title": document.title},
    )
    _emit(document=document, kind="document.trashed")
    return document


@transaction.atomic
def document_restore(
    *, document: Document, actor: User, request: HttpRequest | None = None
) -> Document:
    if document.deleted_at is None:
        return document
    document.deleted_at = None
    document.deleted_by = None
    document.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        action=AuditAction.DOCUMENT_RESTORED,
        request=request,
        actor=actor,
        customer=document.customer,
        data={"document": document.pk, "title": document.title},
    )
    _emit(document=document, kind="document.restored")
    return document


# --- Purge ----------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    documents: int
    orphans: int


def documents_purge(*, now: datetime | None = None) -> PurgeResult:
    """Delete documents that have been in the trash longer than the trash keeps them,
    and stored files no version refers to (left by an upload cut off midway).

    Safe to run at any time and more than once; meant to run daily
    (``manage.py purge_documents``, see docs/operations.md).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PORTAL_DOCUMENT_TRASH_DAYS)
    purged = 0
    for document_id in Document.objects.filter(deleted_at__lt=cutoff).values_list("pk", flat=True):
        purged += _document_purge(document_id=document_id, cutoff=cutoff)
    orphans = _orphans_sweep(
        older_than=now - timedelta(hours=settings.PORTAL_DOCUMENT_ORPHAN_HOURS)
    )
    return PurgeResult(documents=purged, orphans=orphans)


@transaction.atomic
def _document_purge(*, document_id: int, cutoff: datetime) -> int:
    document = (
        Document.objects.select_for_update()
        .select_related("customer")
        .filter(pk=document_id, deleted_at__lt=cutoff)
        .first()
    )
    if document is None:  # restored or purged meanwhile
        return 0
    keys = list(document.versions.values_list("storage_key", flat=True))
    audit_record(
        action=AuditAction.DOCUMENT_PURGED,
        customer=document.customer,
        data={"document": document.pk, "title": document.title, "versions": len(keys)},
    )
    document.delete()

    # Files go once the rows are gone for good; a failure leaves an orphan for the sweep.
    def delete_files() -> None:
        for key in keys:
            _delete_file_quietly(key)

    transaction.on_commit(delete_files)
    return 1


def _orphans_sweep(*, older_than: datetime) -> int:
    removed = 0
    batch: list[str] = []

    def flush() -> int:
        known = set(
            DocumentVersion.objects.filter(storage_key__in=batch).values_list(
                "storage_key", flat=True
            )
        )
        count = 0
        for key in batch:
            if key in known:
                continue
            try:
                if storage.modified_at(key) > older_than:
                    continue  # perhaps an upload still on its way to the database
            except (FileNotFoundError, NotImplementedError):
                continue
            _delete_file_quietly(key)
            count += 1
        batch.clear()
        return count

    for key in storage.all_keys():
        batch.append(key)
        if len(batch) >= 500:
            removed += flush()
    if batch:
        removed += flush()
    return removed
