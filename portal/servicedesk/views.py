"""Customer pages of the service desk: catalog, submission, my requests, request detail."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.accounts.request import signed_in_user
from portal.core.fragments import cached_page, kept_page
from portal.core.paging import CappedPaginator
from portal.core.text import search_words
from portal.customers.access import (
    active_membership,
    customer_permission_required,
    set_active_customer,
    user_memberships,
)
from portal.customers.models import Membership
from portal.customers.roles import Permission

from . import selectors, services
from .downloads import attachment_response
from .forms import CommentForm, ListFilterForm, RatingForm, ServiceRequestForm, TransitionForm
from .models import ServiceRequest
from .workflow import Status

PAGE_SIZE = 20


def _membership(request: HttpRequest) -> Membership:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership


def _may_submit_for(request: HttpRequest, service_request: ServiceRequest) -> bool:
    return any(
        m.customer_id == service_request.customer_id and m.allows(Permission.REQUESTS_SUBMIT)
        for m in user_memberships(request)
    )


def _get_request(request: HttpRequest, reference: str) -> ServiceRequest:
    """The request if this user may see it (404 otherwise); acting for its customer from now on."""
    service_request = selectors.service_request_get_for_user(
        user=signed_in_user(request), reference=reference
    )
    current = active_membership(request)
    if current is None or current.customer_id != service_request.customer_id:
        # A link from an e-mail may lead to a request of another of the user's customers.
        set_active_customer(request, service_request.customer_id)
    return service_request


# --- catalog and submission --------------------------------------------------------------


@customer_permission_required(Permission.REQUESTS_SUBMIT)
@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    search = search_words(request.GET.get("q", ""), max_length=100)
    types = list(selectors.request_types_for_catalog(search=search))
    categories = [(name, list(items)) for name, items in groupby(types, key=lambda t: t.category)]
    return render(
        request,
        "servicedesk/catalog.html",
        {"categories": categories, "search": search, "count": len(types)},
    )


@customer_permission_required(Permission.REQUESTS_SUBMIT)
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, slug: str) -> HttpResponse:
    user = signed_in_user(request)
    customer = _membership(request).customer
    request_type = selectors.request_type_get_for_submit(slug=slug)
    draft = selectors.request_draft_get(user=user, customer=customer, request_type=request_type)
    files_to_choose_again = False
    if request.method == "POST":
        form = ServiceRequestForm(request.POST, request.FILES, request_type=request_type)
        if "save_draft" in request.POST:
            services.request_draft_save(
                user=user, customer=customer, request_type=request_type, data=form.draft_data()
            )
            messages.success(
                request,
                _(
                    "Your draft has been saved. Files are not kept in a draft: "
                    "add them when you submit."
                ),
            )
            return redirect("servicedesk:submit", slug=slug)
        if form.is_valid():
            uploads = [
                services.Upload(file=form.cleaned_data[name], field_name=name)
                for name in form.file_field_names
                if form.cleaned_data.get(name)
            ]
            try:
                service_request = services.service_request_submit(
                    customer=customer,
                    submitted_by=user,
                    request_type=request_type,
                    title=form.cleaned_data["title"],
                    answers=form.cleaned_data,
                    uploads=uploads,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("servicedesk:submitted", reference=service_request.reference)
        # Nothing typed is lost: the page shows it again, and a draft keeps it for later.
        draft = services.request_draft_save(
            user=user, customer=customer, request_type=request_type, data=form.draft_data()
        )
        files_to_choose_again = bool(form.file_field_names and request.FILES)
    else:
        form = ServiceRequestForm(initial=draft.data if draft else None, request_type=request_type)
    return render(
        request,
        "servicedesk/submit.html",
        {
            "form": form,
            "request_type": request_type,
            "draft": draft if request.method == "GET" else None,
            "files_to_choose_again": files_to_choose_again,
        },
    )


@customer_permission_required(Permission.REQUESTS_SUBMIT)
@require_POST
def draft_discard(request: HttpRequest, slug: str) -> HttpResponse:
    request_type = selectors.request_type_get_for_submit(slug=slug)
    services.request_draft_discard(
        user=signed_in_user(request),
        customer=_membership(request).customer,
        request_type=request_type,
    )
    messages.info(request, _("The draft has been discarded."))
    return redirect("servicedesk:submit", slug=slug)


@login_required
@require_safe
def submitted(request: HttpRequest, reference: str) -> HttpResponse:
    service_request = _get_request(request, reference)
    return render(request, "servicedesk/submitted.html", {"service_request": service_request})


# --- my requests ---------------------------------------------------------------------------


@customer_permission_required(Permission.REQUESTS_VIEW)
@require_safe
def request_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)

    def context() -> dict[str, Any]:
        type_choices = [
            (t.slug, t.name) for t in selectors.request_types_for_catalog().only("slug", "name")
        ]
        form = ListFilterForm(request.GET or None, type_choices=type_choices)
        filters = selectors.RequestFilters()
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            filters = selectors.RequestFilters(
                status=data["status"],
                request_type=data["type"],
                submitted_from=data["submitted_from"],
                submitted_to=data["submitted_to"],
                search=data["q"],
            )
        requests = selectors.service_request_list(
            user=signed_in_user(request), customer=membership.customer, filters=filters
        )
        page = CappedPaginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
        return {
            "page": page,
            "form": form,
            "filtered": filters != selectors.RequestFilters(),
            "may_submit": membership.allows(Permission.REQUESTS_SUBMIT),
        }

    # The requests' rows move the customer's version; request types' names the site's.
    return cached_page(
        request, "servicedesk/list.html", context, customers=[membership.customer_id], site=True
    )


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The request, its timeline and conversation; a POST adds a message to the conversation."""
    current = active_membership(request)
    if current is not None:
        # A page is kept for this path under the active customer's versions only once
        # this user, with that membership, was shown the request (its customer is then
        # the active one): the request need not be read to check again.
        kept = kept_page(request, customers=[current.customer_id])
        if kept is not None:
            return kept
    service_request = _get_request(request, reference)
    may_act = _may_submit_for(request, service_request)
    comment_form = CommentForm()
    if request.method == "POST":
        if not may_act:
            raise PermissionDenied
        comment_form = CommentForm(request.POST, request.FILES)
        if comment_form.is_valid():
            upload = comment_form.cleaned_data.get("attachment")
            try:
                services.service_request_comment_add(
                    service_request=service_request,
                    author=signed_in_user(request),
                    body=comment_form.cleaned_data["body"],
                    uploads=[upload] if upload else [],
                )
            except ValidationError as error:
                comment_form.add_error(None, error)
            else:
                messages.success(request, _("Your message has been sent."))
                return redirect("servicedesk:detail", reference=reference)

    def context() -> dict[str, Any]:
        timeline = selectors.timeline(service_request=service_request)
        waiting_question = ""
        if service_request.status == Status.WAITING_FOR_CUSTOMER and timeline:
            waiting_question = timeline[-1].note
        return {
            "service_request": service_request,
            "timeline": timeline,
            "waiting_question": waiting_question,
            "conversation": selectors.conversation_for_customer(service_request=service_request),
            "form_attachments": selectors.form_attachments(service_request=service_request),
            "may_act": may_act,
            "actions": services.customer_actions(service_request=service_request)
            if may_act
            else [],
            "comment_form": comment_form,
            "may_comment": may_act
            and service_request.status not in (Status.CLOSED, Status.CANCELLED),
            "rating_form": RatingForm(),
            "may_rate": may_act
            and service_request.rating is None
            and service_request.status in (Status.RESOLVED, Status.CLOSED),
        }

    # The request's row, timeline, conversation and files move its customer's version.
    return cached_page(
        request, "servicedesk/detail.html", context, customers=[service_request.customer_id]
    )


@login_required
@require_POST
def transition(request: HttpRequest, reference: str) -> HttpResponse:
    """Cancel, confirm or reopen, as the customer."""
    service_request = _get_request(request, reference)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That change is not possible."))
        return redirect("servicedesk:detail", reference=reference)
    try:
        updated = services.service_request_transition(
            service_request=service_request,
            to_status=form.cleaned_data["to_status"],
            actor=signed_in_user(request),
            note=form.cleaned_data["note"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("The request is now %(status)s.") % {"status": Status(updated.status).label},
        )
    return redirect("servicedesk:detail", reference=reference)


@login_required
@require_POST
def rate(request: HttpRequest, reference: str) -> HttpResponse:
    service_request = _get_request(request, reference)
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose from 1 to 5 stars to rate the request."))
        return redirect("servicedesk:detail", reference=reference)
    try:
        services.service_request_rate(
            service_request=service_request,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
            actor=signed_in_user(request),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect("servicedesk:detail", reference=reference)


@login_required
@require_safe
def attachment(request: HttpRequest, reference: str, attachment_id: int) -> HttpResponseBase:
    found = selectors.attachment_get_for_user(
        user=signed_in_user(request), reference=reference, attachment_id=attachment_id
    )
    version = found.document_version
    if version is not None:
        # The documents download: its scan status, audit and headers apply.
        return redirect("documents:download", version.document_id, version.number)
    return attachment_response(found)
