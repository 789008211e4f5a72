"""``/api/v1/request-types`` and ``/api/v1/service-requests``: the catalog, and a
customer's requests: list, submit with the type's fields, get, comment, cancel, reopen.

Submission validates through the same form as the portal's page, so the
rules (required fields, number and date formats, choices) are the same.
"""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.params.functions import Path as PathParam
from ninja.responses import Status as HttpStatus
from pydantic import ConfigDict

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.pagination import Mapped, PagePagination, shape_of
from portal.apikit.problems import ApiProblem
from portal.apikit.schemas import MAX_ID, Date, Text
from portal.core.fragments import versions
from portal.customers.roles import Permission

from . import selectors, services
from .forms import ServiceRequestForm
from .models import FieldKind, RequestType, ServiceRequest
from .workflow import Status

router = Router(tags=["service requests"])

REFERENCE = r"^SR-\d{4}-\d{6}$"
SLUG = r"^[-a-zA-Z0-9_]+$"


class FieldOut(Schema):
    name: str
    label: str
    kind: FieldKind
    required: bool
    help_text: str
    choices: list[str] = Field(description="The options of a `choice` field.")


class FeeOut(Schema):
    amount_minor: int = Field(description="In minor units (cents).")
    currency: str


class RequestTypeOut(Schema):
    slug: str
    name: str
    category: str
    description: str
    first_response_hours: int
    resolution_hours: int
    fee: FeeOut | None = Field(description="Invoiced on submission, if any.")
    fields: list[FieldOut]


class CatalogFilters(Schema):
    search: Text(200) | None = Field(None, description="Words in name, category, description.")  # type: ignore[valid-type]


class RequestSummaryOut(Schema):
    reference: str
    customer_id: int
    request_type: str = Field(description="The type's slug.")
    title: str
    status: Status
    created_at: dt.datetime
    updated_at: dt.datetime


SUMMARY_SHAPE = shape_of(RequestSummaryOut)


class AnswerOut(Schema):
    name: str
    label: str
    kind: FieldKind
    value: Any = Field(description="Text, a number as a string, a date, true/false, or null.")


class StatusChangeOut(Schema):
    at: dt.datetime
    by: Literal["customer", "staff"]
    from_status: Status | None
    to_status: Status
    note: str


class CommentOut(Schema):
    id: int
    at: dt.datetime
    by: Literal["customer", "staff"]
    author: str = Field(description="The author's name (the service team for staff).")
    body: str


class RequestOut(RequestSummaryOut):
    answers: list[AnswerOut]
    first_response_due_at: dt.datetime
    resolution_due_at: dt.datetime
    resolved_at: dt.datetime | None
    actions: list[Literal["cancel", "reopen"]] = Field(description="What you may do now.")
    timeline: list[StatusChangeOut]
    comments: list[CommentOut]


class RequestFilters(Schema):
    customer_id: int | None = Field(None, ge=1, le=MAX_ID, description="When you act for several.")
    status: (
        Literal[
            "open",
            "submitted",
            "in_review",
            "in_progress",
            "waiting_for_customer",
            "resolved",
            "closed",
            "cancelled",
        ]
        | None
    ) = Field(None, description="`open`: any status still being worked on.")
    request_type: Text(80) | None = Field(None, description="A type's slug.")  # type: ignore[valid-type]
    submitted_from: Date | None = None
    submitted_to: Date | None = None
    search: Text(200) | None = Field(None, description="Words in reference, summary, answers.")  # type: ignore[valid-type]


Answer = str | bool | int | float | None


class RequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = Field(None, ge=1, le=MAX_ID, description="When you act for several.")
    request_type: Text(80, min_length=1, blank=False) = Field(description="The type's slug.")  # type: ignore[valid-type]
    title: Text(200, min_length=1, blank=False) = Field(description="A short summary.")  # type: ignore[valid-type]
    answers: dict[Text(80), Answer] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="The type's fields by name: text, numbers, dates as YYYY-MM-DD, "
        "true/false for yes/no. File fields are answered in the portal.",
    )


class CommentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    body: Text(10_000, min_length=1, blank=False)  # type: ignore[valid-type]


def _type_out(request_type: RequestType) -> RequestTypeOut:
    return RequestTypeOut(
        slug=request_type.slug,
        name=request_type.name,
        category=request_type.category,
        description=request_type.description,
        first_response_hours=request_type.sla_first_response_hours,
        resolution_hours=request_type.sla_resolution_hours,
        fee=(
            FeeOut(amount_minor=request_type.fee_amount, currency=request_type.fee_currency)
            if request_type.fee_amount is not None
            else None
        ),
        fields=[
            FieldOut(
                name=f.name,
                label=f.label,
                kind=FieldKind(f.kind),
                required=f.required,
                help_text=f.help_text,
                choices=list(f.choice_list),
            )
            for f in request_type.fields.all()
        ],
    )


def _summary(sr: ServiceRequest) -> RequestSummaryOut:
    return RequestSummaryOut(
        reference=sr.reference,
        customer_id=sr.customer_id,
        request_type=sr.request_type.slug,
        title=sr.title,
        status=Status(sr.status),
        created_at=sr.created_at,
        updated_at=sr.updated_at,
    )


ACTIONS: dict[Status, Literal["cancel", "reopen"]] = {
    Status.CANCELLED: "cancel",
    Status.IN_REVIEW: "reopen",
}


def _detail(sr: ServiceRequest) -> RequestOut:
    comments = selectors.conversation_for_customer(service_request=sr)
    return RequestOut(
        **_summary(sr).model_dump(),
        answers=[AnswerOut(**answer) for answer in sr.answers],
        first_response_due_at=sr.first_response_due_at,
        resolution_due_at=sr.resolution_due_at,
        resolved_at=sr.resolved_at,
        actions=[
            ACTIONS[target]
            for target, _ in services.customer_actions(service_request=sr)
            if target in ACTIONS
        ],
        timeline=[
            StatusChangeOut(
                at=c.created_at,
                by=c.actor_kind,  # type: ignore[arg-type]
                from_status=Status(c.from_status) if c.from_status else None,
                to_status=Status(c.to_status),
                note=c.note,
            )
            for c in selectors.timeline(service_request=sr)
        ],
        comments=[_comment_out(c) for c in comments],
    )


def _comment_out(comment: Any) -> CommentOut:
    staff = comment.author_kind == "staff"
    return CommentOut(
        id=comment.pk,
        at=comment.created_at,
        by="staff" if staff else "customer",
        author="Service team" if staff else comment.author.display_name,
        body=comment.body,
    )


def _request(caller: ApiPrincipal, reference: str) -> ServiceRequest:
    """A request of a customer the caller acts for whose role lets them see requests."""
    sr = selectors.service_request_get_for_user(user=caller.user, reference=reference)
    caller.require(Permission.REQUESTS_VIEW, sr.customer_id)
    return sr


def _form_value(kind: str, value: Answer) -> str:
    if value is None:
        return ""
    if kind == FieldKind.YES_NO and isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value)


ReferencePath = PathParam(..., pattern=REFERENCE, max_length=20, description="e.g. SR-2026-000123")


@router.get("/request-types", response=list[RequestTypeOut], summary="List request types")
@paginate(PagePagination)
def request_type_list(request: HttpRequest, filters: Query[CatalogFilters]) -> Any:
    """The catalog: what can be requested, with each type's fields."""
    types = selectors.request_types_for_catalog(search=filters.search or "")
    return Mapped(types.prefetch_related("fields").order_by("position", "name", "id"), _type_out)


@router.get("/request-types/{slug}", response=RequestTypeOut, summary="Get a request type")
def request_type_get(
    request: HttpRequest,
    slug: str = PathParam(..., pattern=SLUG, max_length=80, description="The type's slug."),
) -> RequestTypeOut:
    return _type_out(selectors.request_type_get_for_submit(slug=slug))


@router.get("/service-requests", response=list[RequestSummaryOut], summary="List requests")
@paginate(PagePagination)
def service_request_list(request: HttpRequest, filters: Query[RequestFilters]) -> Any:
    """One customer's requests, newest first."""
    caller = principal(request)
    membership = caller.pick(Permission.REQUESTS_VIEW, filters.customer_id)
    chosen = selectors.RequestFilters(
        status=filters.status or "",
        request_type=filters.request_type or "",
        submitted_from=filters.submitted_from,
        submitted_to=filters.submitted_to,
        search=filters.search or "",
    )
    requests = selectors.service_request_list(
        user=caller.user, customer=membership.customer, filters=chosen
    )
    # Compared with the selector's defaults, so that a filter added later is never kept.
    unfiltered = chosen == selectors.RequestFilters()
    # The list as it comes is kept until the customer's requests, the caller (their
    # memberships and roles) or the request types change; searches are always read.
    kept_under = (
        "api:requests:{shape}:{user}:{customer}:{versions}".format(
            shape=SUMMARY_SHAPE,
            user=caller.user.pk,
            customer=membership.customer_id,
            versions=versions(
                request, customers=[membership.customer_id], users=[caller.user.pk], site=True
            ),
        )
        if unfiltered
        else None
    )
    return Mapped(requests, _summary, kept_under=kept_under)


@router.post("/service-requests", response={201: RequestOut}, summary="Submit a request")
def service_request_submit(request: HttpRequest, payload: RequestIn) -> HttpStatus[Any]:
    """The answers are checked as the portal's form checks them; errors name
    `answers.<field>`. A type with a fee is invoiced on submission."""
    caller = principal(request)
    membership = caller.pick(Permission.REQUESTS_SUBMIT, payload.customer_id)
    try:
        request_type = selectors.request_type_get_for_submit(slug=payload.request_type)
    except Exception:
        raise ValidationError(
            {"request_type": f"There is no request type {payload.request_type!r}."}
        ) from None
    form = ServiceRequestForm(data={}, request_type=request_type)
    unknown = sorted(set(payload.answers) - {d.name for d in form.definitions})
    kinds = {d.name: d.kind for d in form.definitions}
    data = {"title": payload.title}
    data.update({n: _form_value(kinds[n], v) for n, v in payload.answers.items() if n in kinds})
    form = ServiceRequestForm(data=data, files={}, request_type=request_type)
    errors: dict[str, list[str]] = {f"answers.{name}": ["No such field."] for name in unknown}
    if not form.is_valid():
        for name, messages in form.errors.items():
            key = name if name in {"title", "__all__"} else f"answers.{name}"
            errors[key] = [str(message) for message in messages]
    if errors:
        raise ValidationError({name: list(messages) for name, messages in errors.items()})
    sr = services.service_request_submit(
        customer=membership.customer,
        submitted_by=caller.user,
        request_type=request_type,
        title=form.cleaned_data["title"],
        answers=form.cleaned_data,
    )
    return HttpStatus(201, _detail(_request(caller, sr.reference)))


@router.get("/service-requests/{reference}", response=RequestOut, summary="Get a request")
def service_request_get(request: HttpRequest, reference: str = ReferencePath) -> RequestOut:
    """With its answers, timeline and conversation (never the service team's internal notes)."""
    return _detail(_request(principal(request), reference))


@router.post(
    "/service-requests/{reference}/comments",
    response={201: CommentOut},
    summary="Add a message",
)
def service_request_comment(
    request: HttpRequest, payload: CommentIn, reference: str = ReferencePath
) -> HttpStatus[Any]:
    """A reply to a request waiting for you sends it back to the service team."""
    caller = principal(request)
    sr = _request(caller, reference)
    caller.require(Permission.REQUESTS_SUBMIT, sr.customer_id)
    try:
        comment = services.service_request_comment_add(
            service_request=sr, author=caller.user, body=payload.body
        )
    except ValidationError as error:
        if getattr(error, "code", "") == "closed":
            raise ApiProblem(409, " ".join(error.messages)) from None
        raise
    return HttpStatus(201, _comment_out(comment))


def _move(request: HttpRequest, reference: str, target: Status) -> RequestOut:
    caller = principal(request)
    sr = _request(caller, reference)
    caller.require(Permission.REQUESTS_SUBMIT, sr.customer_id)
    if target not in {t for t, _ in services.customer_actions(service_request=sr)}:
        raise ApiProblem(
            409, f"A request that is {Status(sr.status).label} cannot be moved to {target.label}."
        )
    try:
        services.service_request_transition(service_request=sr, to_status=target, actor=caller.user)
    except ValidationError as error:
        raise ApiProblem(409, " ".join(error.messages)) from None
    return _detail(_request(caller, reference))


@router.post("/service-requests/{reference}/cancel", response=RequestOut, summary="Cancel")
def service_request_cancel(request: HttpRequest, reference: str = ReferencePath) -> RequestOut:
    """Only while the service team has not started on it (409 otherwise)."""
    return _move(request, reference, Status.CANCELLED)


@router.post("/service-requests/{reference}/reopen", response=RequestOut, summary="Reopen")
def service_request_reopen(request: HttpRequest, reference: str = ReferencePath) -> RequestOut:
    """A resolved request that is not solved, within the reopening period (409 otherwise)."""
    return _move(request, reference, Status.IN_REVIEW)
