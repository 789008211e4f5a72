"""Reads of the catalog and of requests, always as the person asking.

A request of a customer the user may not see requests of is reported exactly
like a missing one (404). Internal notes never leave the staff selectors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet, Subquery
from django.http import Http404

from portal.accounts.models import User
from portal.customers.models import Customer, Membership
from portal.customers.roles import Permission, Role

from .models import Attachment, Comment, RequestDraft, RequestType, ServiceRequest, StatusChange
from .workflow import OPEN_STATUSES, Status

NOT_FOUND = "No such request."


# --- catalog ---------------------------------------------------------------------------


def request_types_for_catalog(*, search: str = "") -> QuerySet[RequestType]:
    """Offered request types, optionally matching ``search`` in name, category or description."""
    types = RequestType.objects.filter(active=True)
    for word in search.split()[:8]:
        types = types.filter(
            Q(name__icontains=word) | Q(category__icontains=word) | Q(description__icontains=word)
        )
    # An aggregate drops Meta.ordering (Django 3.1+): order explicitly, or
    # PostgreSQL returns the groups in any order.
    return types.annotate(field_count=Count("fields")).order_by("category", "position", "name")


def request_type_get_for_submit(*, slug: str) -> RequestType:
    request_type = (
        RequestType.objects.filter(active=True, slug=slug).prefetch_related("fields").first()
    )
    if request_type is None:
        raise Http404("No such request type.")
    return request_type


def request_draft_get(
    *, user: User, customer: Customer, request_type: RequestType
) -> RequestDraft | None:
    return RequestDraft.objects.filter(
        user=user, customer=customer, request_type=request_type
    ).first()


# --- a customer's requests ---------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilters:
    status: str = ""
    request_type: str = ""  # a slug
    submitted_from: dt.date | None = None
    submitted_to: dt.date | None = None
    search: str = ""


# Roles whose members may see requests: the role table, read without a query.
VIEWING_ROLES = [role.value for role in Role if Permission.REQUESTS_VIEW in role.permissions]


def _visible_requests(*, user: User) -> QuerySet[ServiceRequest]:
    """Requests of every customer where the user's role lets them see requests.

    The same rule as ``customers_for_user(permission=REQUESTS_VIEW)``, as a
    subquery, so scoping costs no query of its own.
    """
    if not user.is_authenticated or not user.is_active:
        return ServiceRequest.objects.none()
    customers = Membership.objects.filter(user=user, role__in=VIEWING_ROLES).values("customer_id")
    return ServiceRequest.objects.filter(customer__in=customers)


def service_request_list(
    *, user: User, customer: Customer, filters: RequestFilters | None = None
) -> QuerySet[ServiceRequest]:
    """The requests of ``customer`` the user may see, newest first, filtered."""
    filters = filters or RequestFilters()
    requests = _visible_requests(user=user).filter(customer=customer)
    if filters.status == "open":
        requests = requests.filter(status__in=OPEN_STATUSES)
    elif filters.status in Status.values:
        requests = requests.filter(status=filters.status)
    if filters.request_type:
        requests = requests.filter(request_type__slug=filters.request_type)
    if filters.submitted_from:
        requests = requests.filter(created_at__date__gte=filters.submitted_from)
    if filters.submitted_to:
        requests = requests.filter(created_at__date__lte=filters.submitted_to)
    for word in filters.search.split()[:8]:
        requests = requests.filter(
            Q(reference__icontains=word) | Q(title__icontains=word) | Q(search_text__icontains=word)
        )
    return requests.select_related("request_type", "submitted_by").order_by("-created_at", "-id")


def service_request_counts(*, user: User, customer: Customer) -> dict[str, int]:
    """How many of the customer's requests are open, waiting for them, and awaiting confirmation.

    Counts only the requests still in play (an index on customer and status finds
    them), so the cost follows the open work, not the years of closed history;
    ``any`` tells none (0) from some (1) without counting them all.
    """
    requests = _visible_requests(user=user).filter(customer=customer)
    newest = requests.order_by("-created_at", "-id").values("pk")[:1]
    # The requests in play, plus the newest one so that ``any`` needs no query of its own.
    counts = requests.filter(
        Q(status__in=[*OPEN_STATUSES, Status.RESOLVED]) | Q(pk=Subquery(newest))
    ).aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        waiting=Count("pk", filter=Q(status=Status.WAITING_FOR_CUSTOMER)),
        resolved=Count("pk", filter=Q(status=Status.RESOLVED)),
        rows=Count("pk"),
    )
    result = {key: int(counts[key] or 0) for key in ("open", "waiting", "resolved")}
    result["any"] = int(bool(counts["rows"]))
    return result


def service_request_get_for_user(*, user: User, reference: str) -> ServiceRequest:
    """The request with this reference if the user may see it; otherwise the same 404."""
    service_request = (
        _visible_requests(user=user)
        .select_related("customer", "request_type", "submitted_by")
        .filter(reference=reference)
        .first()
    )
    if service_request is None:
        raise Http404(NOT_FOUND)
    return service_request


def timeline(*, service_request: ServiceRequest) -> list[StatusChange]:
    return list(service_request.status_changes.select_related("actor").order_by("created_at", "id"))


def _attachments() -> Prefetch[Any]:
    return Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))


def conversation_for_customer(*, service_request: ServiceRequest) -> list[Comment]:
    """The messages a customer sees: never an internal note."""
    return list(
        service_request.comments.filter(internal=False)
        .select_related("author")
        .prefetch_related(_attachments())
        .order_by("created_at", "id")
    )


def conversation_for_staff(*, service_request: ServiceRequest) -> list[Comment]:
    """Every message, internal notes included: the back office only."""
    return list(
        service_request.comments.select_related("author")
        .prefetch_related(_attachments())
        .order_by("created_at", "id")
    )


def form_attachments(*, service_request: ServiceRequest) -> list[Attachment]:
    """Files given with the request form itself."""
    return list(service_request.attachments.filter(comment__isnull=True).order_by("id"))


def attachment_get_for_user(*, user: User, reference: str, attachment_id: int) -> Attachment:
    """A file of a request the user may see, never one of an internal note; 404 otherwise."""
    service_request = service_request_get_for_user(user=user, reference=reference)
    attachment = (
        Attachment.objects.filter(service_request=service_request, pk=attachment_id)
        .exclude(comment__internal=True)
        .first()
    )
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def service_requests_export_for_user(*, user: User) -> list[dict[str, Any]]:
    """The requests this person submitted, for their data export: no internal notes."""
    requests = (
        ServiceRequest.objects.filter(submitted_by=user)
        .select_related("customer", "request_type")
        .prefetch_related(
            Prefetch(
                "comments",
                queryset=Comment.objects.filter(internal=False)
                .select_related("author")
                .order_by("created_at", "id"),
            ),
            Prefetch("status_changes", queryset=StatusChange.objects.order_by("created_at", "id")),
        )
        .order_by("created_at", "id")
    )
    return [
        {
            "reference": r.reference,
            "customer_number": r.customer.number,
            "type": r.request_type.name,
            "summary": r.title,
            "answers": [{"question": a["label"], "answer": a["value"]} for a in r.answers],
            "status": r.status,
            "submitted_at": r.created_at.isoformat(),
            "rating": r.rating,
            "rating_comment": r.rating_comment,
            "timeline": [
                {
                    "time": c.created_at.isoformat(),
                    "from": c.from_status,
                    "to": c.to_status,
                    "note": c.note,
                }
                for c in r.status_changes.all()
            ],
            "conversation": [
                {
                    "time": c.created_at.isoformat(),
                    "from": c.author_label,
                    "mine": c.author_id == user.pk,
                    "message": c.body,
                }
                for c in r.comments.all()
            ],
        }
        for r in requests
    ]


# --- staff -----------------------------------------------------------------------------


def staff_queue() -> QuerySet[ServiceRequest]:
    """Every request for the back office, the next SLA deadline first, finished ones last."""
    return ServiceRequest.objects.select_related(
        "customer", "request_type", "assigned_to"
    ).order_by(F("due_at").asc(nulls_last=True), "created_at")


def staff_members() -> QuerySet[User]:
    return User.objects.filter(is_staff=True, is_active=True).order_by("first_name", "email")
