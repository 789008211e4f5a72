"""Every change to service requests: submission, workflow, conversation, rating, drafts.

Each function is one business action in one transaction. Anything a customer
may see changing records a live event in the same transaction; e-mails and
notifications go out after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import NotificationKind, User
from portal.billing.services import invoice_create_for_fee
from portal.core.tasks import send_email_on_commit
from portal.customers.models import Customer, Membership
from portal.customers.roles import ROLE_PERMISSIONS, Permission
from portal.documents.models import Source as DocumentSource
from portal.documents.services import document_file_check, document_upload
from portal.live.services import live_event_emit, notification_send

from .models import (
    Attachment,
    Comment,
    FieldDefinition,
    FieldKind,
    ReferenceCounter,
    RequestDraft,
    RequestType,
    ServiceRequest,
    StatusChange,
)
from .workflow import NOT_STARTED, REOPEN, ActorKind, Status, is_allowed


@dataclass(frozen=True)
class Upload:
    """A file to attach: what a form gives, plus which form field it came from."""

    file: UploadedFile
    field_name: str = ""


# --- helpers -----------------------------------------------------------------------


def reference_allocate(*, year: int) -> str:
    """The next ``SR-<year>-<6 digits>``: the year's counter row is locked while it is taken.

    Must run inside the caller's transaction, so a rolled-back submission gives
    its number back.
    """
    # Creating the row is idempotent and race-free on SQLite and PostgreSQL alike.
    ReferenceCounter.objects.bulk_create([ReferenceCounter(year=year)], ignore_conflicts=True)
    counter = ReferenceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"SR-{year}-{counter.last:06d}"


def attachment_store(
    *,
    service_request: ServiceRequest,
    upload: UploadedFile,
    uploaded_by: User,
    comment: Comment | None = None,
    field_name: str = "",
) -> Attachment:
    """Keep one uploaded file with a request.

    The one place files enter the service desk. Files the customer may see
    become documents of the request's customer (see ``Attachment``); the
    documents pipeline refuses what it must with a ``ValidationError``.
    """
    limit = settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB * 1024 * 1024
    size = upload.size or 0
    if size > limit:
        raise ValidationError(
            _("%(name)s is too large: files may be at most %(max)s MB.")
            % {"name": upload.name, "max": settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB},
            code="too_large",
        )
    original = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200]
    attachment = Attachment(
        service_request=service_request,
        comment=comment,
        field_name=field_name,
        original_name=original,
        size=size,
        content_type=(upload.content_type or "")[:100],
        uploaded_by=uploaded_by,
    )
    if comment is not None and comment.internal:
        # Staff only, so not a customer document; still type-checked and scanned.
        inspected = document_file_check(file=upload)
        attachment.original_name = inspected.file_name[:200]
        attachment.content_type = inspected.content_type[:100]
        attachment.file.save(original, upload, save=False)
    else:
        # Checked by content, scanned, stored and downloaded like any document.
        version = document_upload(
            customer=service_request.customer,
            uploaded_by=uploaded_by,
            file=upload,
            title=original,
            request_reference=service_request.reference,
            source=DocumentSource.STAFF if uploaded_by.is_staff else DocumentSource.CUSTOMER,
        )
        attachment.document_version = version
        attachment.original_name = version.file_name[:200]
        attachment.content_type = version.content_type[:100]
    attachment.save()
    return attachment


def _actor_kind(*, actor: User, service_request: ServiceRequest, as_staff: bool) -> ActorKind:
    """Who is acting, checked: staff through the back office, or a customer who may submit."""
    if not actor.is_active:
        raise PermissionDenied
    if as_staff:
        if not actor.is_staff:
            raise PermissionDenied
        return ActorKind.STAFF
    if not _may_submit(user=actor, customer_id=service_request.customer_id):
        raise PermissionDenied
    return ActorKind.CUSTOMER


def _may_submit(*, user: User, customer_id: int) -> bool:
    membership = Membership.objects.filter(user=user, customer_id=customer_id).first()
    return membership is not None and membership.allows(Permission.REQUESTS_SUBMIT)


def _request_url(service_request: ServiceRequest) -> str:
    return reverse("servicedesk:detail", args=[service_request.reference])


def _emit(*, service_request: ServiceRequest, kind: str, announce: str) -> None:
    """Tell the customer's members who may see requests, and staff, that it changed."""
    status = Status(service_request.status)
    live_event_emit(
        kind=kind,
        topic=f"service_request:{service_request.reference}",
        customer=service_request.customer,
        permission=Permission.REQUESTS_VIEW,
        staff=True,
        data={
            "reference": service_request.reference,
            "status": status.value,
            "status_label": str(status.label),
            "announce": announce,
        },
    )


def _emit_staff_only(*, service_request: ServiceRequest, kind: str) -> None:
    live_event_emit(
        kind=kind,
        topic=f"service_request:{service_request.reference}",
        staff=True,
        data={"reference": service_request.reference, "status": service_request.status},
    )


def _request_watchers(service_request: ServiceRequest) -> list[User]:
    """The customer's members whose role lets them see requests."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Permission.REQUESTS_VIEW in perms]
    return [
        m.user
        for m in Membership.objects.filter(
            customer_id=service_request.customer_id, role__in=roles, user__is_active=True
        ).select_related("user")
    ]


def _notify(
    *,
    service_request: ServiceRequest,
    actor: User,
    message: Callable[[], tuple[str, str]],
) -> None:
    """Notify every watcher but the actor; ``message`` gives (title, body) in their language."""
    for user in _request_watchers(service_request):
        if user.pk == actor.pk:
            continue
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            title, body = message()
        notification_send(
            user=user,
            kind=NotificationKind.SERVICE_REQUEST,
            title=title,
            body=body,
            url=_request_url(service_request),
            customer=service_request.customer,
        )


def _set_due(service_request: ServiceRequest) -> None:
    service_request.due_at = service_request.next_due()


def _answer_value(kind: str, value: Any) -> Any:
    """A form value as JSON: numbers as strings (exact), dates as ISO dates."""
    if value is None or value == "":
        return None
    if kind == FieldKind.NUMBER:
        return str(Decimal(value).normalize()) if isinstance(value, Decimal) else str(value)
    if kind == FieldKind.DATE:
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == FieldKind.YES_NO:
        return bool(value) if isinstance(value, bool) else value == "yes"
    if kind == FieldKind.FILE:
        return getattr(value, "name", str(value))
    return str(value)


# --- submission ----------------------------------------------------------------------


@transaction.atomic
def service_request_submit(
    *,
    customer: Customer,
    submitted_by: User,
    request_type: RequestType,
    title: str,
    answers: Mapping[str, Any],
    uploads: Iterable[Upload] = (),
) -> ServiceRequest:
    """Open a request from a validated form: its reference, SLA deadlines and first timeline entry.

    ``answers`` maps each field of the type to its cleaned value; ``uploads``
    are the files of its file fields.
    """
    if not submitted_by.is_active or not _may_submit(user=submitted_by, customer_id=customer.pk):
        raise PermissionDenied
    if not request_type.active:
        raise ValidationError(_("This kind of request is no longer offered."), code="inactive")
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("Give the request a short summary.")}, code="required")
    now = timezone.now()
    snapshot: list[dict[str, Any]] = []
    fields: list[FieldDefinition] = list(request_type.fields.all())
    for field in fields:
        value = _answer_value(field.kind, answers.get(field.name))
        snapshot.append(
            {"name": field.name, "label": field.label, "kind": field.kind, "value": value}
        )
    service_request = ServiceRequest(
        reference=reference_allocate(year=now.year),
        customer=customer,
        request_type=request_type,
        submitted_by=submitted_by,
        title=title[:200],
        answers=snapshot,
        search_text=" ".join(
            str(a["value"]) for a in snapshot if a["value"] not in (None, True, False)
        ),
        status=Status.SUBMITTED,
        created_at=now,
        updated_at=now,
        first_response_due_at=now + dt.timedelta(hours=request_type.sla_first_response_hours),
        resolution_due_at=now + dt.timedelta(hours=request_type.sla_resolution_hours),
    )
    _set_due(service_request)
    service_request.save()
    for upload in uploads:
        attachment_store(
            service_request=service_request,
            upload=upload.file,
            uploaded_by=submitted_by,
            field_name=upload.field_name,
        )
    StatusChange.objects.create(
        service_request=service_request,
        created_at=now,
        actor=submitted_by,
        actor_kind=ActorKind.CUSTOMER,
        from_status="",
        to_status=Status.SUBMITTED,
    )
    RequestDraft.objects.filter(
        user=submitted_by, customer=customer, request_type=request_type
    ).delete()
    if request_type.fee_amount is not None:
        # A fee-bearing type is invoiced with the submission, in the same transaction.
        invoice_create_for_fee(
            customer=customer,
            description=f"{request_type.name} ({service_request.reference})",
            amount_minor=request_type.fee_amount,
            currency=request_type.fee_currency,
            source_reference=f"servicedesk:{service_request.reference}",
            created_by=submitted_by,
        )
    _emit(
        service_request=service_request,
        kind="service_request.submitted",
        announce=_("Request %(reference)s was submitted.")
        % {"reference": service_request.reference},
    )
    with translation.override(submitted_by.preferred_language or settings.LANGUAGE_CODE):
        subject = _("We received your request %(reference)s") % {
            "reference": service_request.reference
        }
        body = render_to_string(
            "servicedesk/email/submitted.txt",
            {
                "user": submitted_by,
                "service_request": service_request,
                "url": settings.PORTAL_BASE_URL + _request_url(service_request),
            },
        )
    send_email_on_commit(to=[submitted_by.email], subject=subject, body=body)
    return service_request


# --- workflow ------------------------------------------------------------------------


def _previous_working_status(service_request: ServiceRequest) -> Status:
    """Where a request waiting for the customer goes back to when they reply."""
    last = (
        service_request.status_changes.filter(to_status=Status.WAITING_FOR_CUSTOMER)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None and last.from_status == Status.IN_PROGRESS:
        return Status.IN_PROGRESS
    return Status.IN_REVIEW


def _transition(
    *,
    service_request: ServiceRequest,
    to_status: Status,
    actor: User,
    actor_kind: ActorKind,
    note: str,
) -> StatusChange:
    from_status = Status(service_request.status)
    if not is_allowed(actor_kind, from_status, to_status):
        raise ValidationError(
            _("A request that is “%(from)s” cannot be set to “%(to)s”.")
            % {"from": from_status.label, "to": to_status.label},
            code="not_allowed",
        )
    if (actor_kind, from_status, to_status) == REOPEN and not service_request.may_still_reopen:
        raise ValidationError(
            _(
                "This request was resolved more than %(days)s days ago and can no longer be "
                "reopened. Please submit a new request."
            )
            % {"days": settings.PORTAL_REOPEN_DAYS},
            code="reopen_window",
        )
    now = timezone.now()
    service_request.status = to_status
    service_request.updated_at = now
    if to_status == Status.RESOLVED:
        service_request.resolved_at = now
    elif to_status.is_open:
        service_request.resolved_at = None
    if actor_kind == ActorKind.STAFF and service_request.first_responded_at is None:
        service_request.first_responded_at = now
    _set_due(service_request)
    service_request.save()
    return StatusChange.objects.create(
        service_request=service_request,
        created_at=now,
        actor=actor,
        actor_kind=actor_kind,
        from_status=from_status,
        to_status=to_status,
        note=note.strip(),
    )


def _announce_status(service_request: ServiceRequest) -> str:
    return _("Request %(reference)s is now %(status)s.") % {
        "reference": service_request.reference,
        "status": Status(service_request.status).label,
    }


def _locked(service_request: ServiceRequest) -> ServiceRequest:
    return (
        ServiceRequest.objects.select_for_update()
        .select_related("customer", "request_type")
        .get(pk=service_request.pk)
    )


@transaction.atomic
def service_request_transition(
    *,
    service_request: ServiceRequest,
    to_status: Status | str,
    actor: User,
    as_staff: bool = False,
    note: str = "",
) -> ServiceRequest:
    """Move a request to ``to_status`` if the workflow lets this actor do it, with a timeline entry.

    ``as_staff`` is true for the back office (the actor must be staff); else
    the actor must be a member of the request's customer who may submit
    requests. Raises ``PermissionDenied`` for the wrong actor and
    ``ValidationError`` for a move the workflow does not allow.
    """
    target = Status(to_status)
    kind = _actor_kind(actor=actor, service_request=service_request, as_staff=as_staff)
    locked = _locked(service_request)
    change = _transition(
        service_request=locked, to_status=target, actor=actor, actor_kind=kind, note=note
    )
    _emit(
        service_request=locked,
        kind="service_request.status_changed",
        announce=_announce_status(locked),
    )

    def message() -> tuple[str, str]:
        title = _("%(reference)s is now %(status)s") % {
            "reference": locked.reference,
            "status": target.label,
        }
        return title, f"{locked.title}\n\n{change.note}".strip()

    _notify(service_request=locked, actor=actor, message=message)
    return locked


def customer_actions(*, service_request: ServiceRequest) -> list[tuple[Status, str]]:
    """The status buttons a customer sees now: (target, label), time limits applied."""
    status = Status(service_request.status)
    actions: list[tuple[Status, str]] = []
    if status in NOT_STARTED:
        actions.append((Status.CANCELLED, _("Cancel this request")))
    if status == Status.RESOLVED:
        actions.append((Status.CLOSED, _("Confirm it is solved")))
        if service_request.may_still_reopen:
            actions.append((Status.IN_REVIEW, _("Reopen: it is not solved")))
    return actions


@transaction.atomic
def service_request_assign(
    *, service_request: ServiceRequest, assignee: User | None, actor: User
) -> ServiceRequest:
    """Give the request to a staff member (or to nobody). Staff only."""
    _actor_kind(actor=actor, service_request=service_request, as_staff=True)
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise ValidationError(_("Requests can only be assigned to active staff."), code="assignee")
    locked = _locked(service_request)
    if locked.assigned_to_id == (assignee.pk if assignee else None):
        return locked
    locked.assigned_to = assignee
    locked.save(update_fields=["assigned_to"])
    _emit_staff_only(service_request=locked, kind="service_request.assigned")
    return locked


# --- conversation ----------------------------------------------------------------------


@transaction.atomic
def service_request_comment_add(
    *,
    service_request: ServiceRequest,
    author: User,
    body: str,
    as_staff: bool = False,
    internal: bool = False,
    uploads: Iterable[UploadedFile] = (),
) -> Comment:
    """Add a message to the conversation, or (staff only) an internal note.

    A customer's reply to a request waiting for them sends it back to work. A
    staff reply counts as the first response. Internal notes reach staff only:
    no customer event, notification or e-mail is produced for them.
    """
    kind = _actor_kind(actor=author, service_request=service_request, as_staff=as_staff)
    if internal and kind != ActorKind.STAFF:
        raise PermissionDenied
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a message first.")}, code="required")
    locked = _locked(service_request)
    if kind == ActorKind.CUSTOMER and locked.status in (Status.CLOSED, Status.CANCELLED):
        raise ValidationError(
            _("This request is %(status)s. Please submit a new request.")
            % {"status": Status(locked.status).label},
            code="closed",
        )
    now = timezone.now()
    comment = Comment.objects.create(
        service_request=locked,
        created_at=now,
        author=author,
        author_kind=kind,
        body=body,
        internal=internal,
    )
    for upload in uploads:
        attachment_store(service_request=locked, upload=upload, uploaded_by=author, comment=comment)
    if internal:
        _emit_staff_only(service_request=locked, kind="service_request.internal_note")
        return comment
    locked.updated_at = now
    if kind == ActorKind.STAFF and locked.first_responded_at is None:
        locked.first_responded_at = now
    _set_due(locked)
    locked.save(update_fields=["updated_at", "first_responded_at", "due_at"])
    if kind == ActorKind.CUSTOMER and locked.status == Status.WAITING_FOR_CUSTOMER:
        _transition(
            service_request=locked,
            to_status=_previous_working_status(locked),
            actor=author,
            actor_kind=kind,
            note=_("Replied to the question."),
        )
    _emit(
        service_request=locked,
        kind="service_request.comment_added",
        announce=_("New message on request %(reference)s.") % {"reference": locked.reference},
    )
    if kind == ActorKind.STAFF:

        def message() -> tuple[str, str]:
            title = _("New reply on %(reference)s") % {"reference": locked.reference}
            return title, body

        _notify(service_request=locked, actor=author, message=message)
    return comment


@transaction.atomic
def service_request_rate(
    *, service_request: ServiceRequest, rating: int, comment: str, actor: User
) -> ServiceRequest:
    """The customer's satisfaction (1–5 and a comment), once, after resolution."""
    _actor_kind(actor=actor, service_request=service_request, as_staff=False)
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Choose from 1 to 5 stars.")}, code="range")
    locked = _locked(service_request)
    if locked.status not in (Status.RESOLVED, Status.CLOSED):
        raise ValidationError(
            _("You can rate a request once it has been resolved."), code="not_resolved"
        )
    if locked.rating is not None:
        raise ValidationError(_("This request has already been rated."), code="rated")
    locked.rating = rating
    locked.rating_comment = comment.strip()
    locked.rated_at = timezone.now()
    locked.save(update_fields=["rating", "rating_comment", "rated_at"])
    _emit(
        service_request=locked,
        kind="service_request.rated",
        announce=_("Thank you for rating request %(reference)s.") % {"reference": locked.reference},
    )
    return locked


# --- drafts ----------------------------------------------------------------------------


@transaction.atomic
def request_draft_save(
    *, user: User, customer: Customer, request_type: RequestType, data: Mapping[str, Any]
) -> RequestDraft:
    """Keep what was typed into a request form (files cannot be kept)."""
    draft, _created = RequestDraft.objects.update_or_create(
        user=user,
        customer=customer,
        request_type=request_type,
        defaults={"data": dict(data), "updated_at": timezone.now()},
    )
    return draft


@transaction.atomic
def request_draft_discard(*, user: User, customer: Customer, request_type: RequestType) -> None:
    RequestDraft.objects.filter(user=user, customer=customer, request_type=request_type).delete()
