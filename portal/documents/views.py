"""The document library: thin views over selectors and services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.accounts.request import signed_in_user
from portal.core.fragments import cached_page
from portal.customers.access import customer_permission_required, user_memberships
from portal.customers.models import Customer, Membership
from portal.customers.roles import Permission

from . import selectors, services
from .forms import DocumentEditForm, LibraryFilterForm, UploadForm, VersionForm
from .models import Document, DocumentVersion
from .responses import download_response
from .uploads import limit_upload_size, too_large

PAGE_SIZE = 20


def _customer(request: HttpRequest) -> Customer:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership.customer


def _can_upload(request: HttpRequest) -> bool:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership.allows(Permission.DOCUMENTS_UPLOAD)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@customer_permission_required(Permission.DOCUMENTS_VIEW)
@require_safe
def library(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    customer = _customer(request)

    def context() -> dict[str, Any]:
        references = selectors.request_references_in_use(user=user, customer=customer)
        filter_form = LibraryFilterForm(request.GET or None, references=references)
        filters = selectors.DocumentFilters()
        if filter_form.is_valid():
            data = filter_form.cleaned_data
            filters = selectors.DocumentFilters(
                search=data["q"].strip(),
                category=data["category"],
                request_reference=data["request"],
                since=data["since"],
                until=data["until"],
                sort=data["sort"] or selectors.DEFAULT_SORT,
            )
        documents = selectors.document_list(user=user, customer=customer, filters=filters)
        return {
            "customer": customer,
            "page": Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page")),
            "filter_form": filter_form,
            "filtered": filters != selectors.DocumentFilters(),
            "upload_form": UploadForm() if _can_upload(request) else None,
            **_usage(customer),
        }

    # Documents and their versions move the customer's version; categories the site's.
    return cached_page(
        request, "documents/library.html", context, customers=[customer.pk], site=True
    )


def _usage(customer: Customer) -> dict[str, Any]:
    used = selectors.customer_storage_used(customer=customer)
    quota = settings.PORTAL_DOCUMENT_QUOTA_BYTES
    return {
        "storage_used": used,
        "storage_quota": quota,
        "storage_percent": min(100, round(used * 100 / quota)) if quota else 100,
        "max_file_size": settings.PORTAL_DOCUMENT_MAX_BYTES,
    }


@csrf_exempt  # checked by csrf_protect below, once the size limit is in place
@customer_permission_required(Permission.DOCUMENTS_UPLOAD)
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    limit_upload_size(request)
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    customer = _customer(request)
    form = UploadForm(request.POST)
    category = form.cleaned_data["category"] if form.is_valid() else None
    results: list[dict[str, Any]] = [
        {"name": name, "ok": False, "error": services.file_too_large_error(name).messages[0]}
        for name in too_large(request)
    ]
    for file in request.FILES.getlist("files"):
        try:
            version = services.document_upload(
                customer=customer, uploaded_by=user, file=file, category=category, request=request
            )
        except ValidationError as error:
            results.append({"name": file.name, "ok": False, "error": error.messages[0]})
        else:
            results.append(
                {
                    "name": version.file_name,
                    "ok": True,
                    "url": reverse("documents:detail", args=[version.document_id]),
                    "message": _("%(name)s has been uploaded.") % {"name": version.file_name},
                }
            )
    if not results:
        results.append({"name": "", "ok": False, "error": _("Choose one or more files.")})
    if _wants_json(request):
        status = 200 if any(r["ok"] for r in results) else 400
        return JsonResponse({"files": results}, status=status)
    for result in results:
        if result["ok"]:
            messages.success(request, result["message"])
        else:
            messages.error(request, result["error"])
    return redirect("documents:library")


@customer_permission_required(Permission.DOCUMENTS_VIEW)
@require_safe
def detail(request: HttpRequest, document_id: int) -> HttpResponse:
    user = signed_in_user(request)
    document = selectors.document_get_for_user(user=user, document_id=document_id)
    return _render_detail(request, document)


def _render_detail(
    request: HttpRequest,
    document: Document,
    *,
    edit_form: DocumentEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    membership = next(
        (m for m in user_memberships(request) if m.customer_id == document.customer_id), None
    )
    can_change = (
        membership is not None
        and membership.allows(Permission.DOCUMENTS_UPLOAD)
        and not document.is_shared_by_staff
    )
    context = {
        "document": document,
        "versions": selectors.document_versions(document=document),
        "can_change": can_change,
        "edit_form": edit_form
        or DocumentEditForm(initial={"title": document.title, "category": document.category}),
        "version_form": VersionForm(),
        "max_file_size": settings.PORTAL_DOCUMENT_MAX_BYTES,
    }
    return render(request, "documents/detail.html", context, status=status)


def _changeable(request: HttpRequest, document_id: int, *, in_trash: bool = False) -> Document:
    return selectors.document_get_for_user(
        user=signed_in_user(request),
        document_id=document_id,
        permission=Permission.DOCUMENTS_UPLOAD,
        in_trash=in_trash,
    )


@customer_permission_required(Permission.DOCUMENTS_UPLOAD)
@require_POST
def edit(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _changeable(request, document_id)
    form = DocumentEditForm(request.POST)
    if form.is_valid():
        try:
            services.document_update(
                document=document,
                actor=signed_in_user(request),
                title=form.cleaned_data["title"],
                category=form.cleaned_data["category"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The document has been saved."))
            return redirect("documents:detail", document_id=document.pk)
    document.refresh_from_db()
    return _render_detail(request, document, edit_form=form, status=400)


@csrf_exempt  # checked by csrf_protect below, once the size limit is in place
@customer_permission_required(Permission.DOCUMENTS_UPLOAD)
@require_POST
def version_upload(request: HttpRequest, document_id: int) -> HttpResponse:
    limit_upload_size(request)
    return _version_upload(request, document_id)


@csrf_protect
def _version_upload(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _changeable(request, document_id)
    error = ""
    version: DocumentVersion | None = None
    files = request.FILES.getlist("file")
    if too_large(request):
        error = services.file_too_large_error(too_large(request)[0]).messages[0]
    elif document.is_shared_by_staff:
        error = _("Documents shared by the organisation cannot be changed here.")
    elif not files:
        error = _("Choose a file.")
    else:
        try:
            version = services.document_version_add(
                document=document,
                uploaded_by=signed_in_user(request),
                file=files[0],
                request=request,
            )
        except ValidationError as exc:
            error = exc.messages[0]
    url = reverse("documents:detail", args=[document.pk])
    if _wants_json(request):
        if version is None:
            return JsonResponse({"files": [{"ok": False, "error": error}]}, status=400)
        message = _("Version %(number)s has been uploaded.") % {"number": version.number}
        return JsonResponse(
            {"files": [{"ok": True, "name": version.file_name, "url": url, "message": message}]}
        )
    if version is None:
        messages.error(request, error)
    else:
        messages.success(
            request, _("Version %(number)s has been uploaded.") % {"number": version.number}
        )
    return redirect(url)


@customer_permission_required(Permission.DOCUMENTS_VIEW)
@require_safe
def download(request: HttpRequest, document_id: int, number: int) -> HttpResponse:
    user = signed_in_user(request)
    version = selectors.version_get_for_user(user=user, document_id=document_id, number=number)
    try:
        handle = services.document_version_open(version=version, user=user, request=request)
    except ValidationError:
        return render(
            request,
            "documents/unavailable.html",
            {"version": version, "document": version.document},
            status=403,
        )
    response = download_response(
        handle, file_name=version.file_name, content_type=version.content_type, size=version.size
    )
    return response  # type: ignore[return-value] # a streamed response is fine here


@customer_permission_required(Permission.DOCUMENTS_UPLOAD)
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _changeable(request, document_id)
    error = ""
    if request.method == "POST":
        try:
            services.document_trash(
                document=document, actor=signed_in_user(request), request=request
            )
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(
                request,
                _("%(title)s has been moved to the trash.") % {"title": document.title},
            )
            return redirect("documents:library")
    return render(
        request,
        "documents/delete.html",
        {"document": document, "error": error, "trash_days": _trash_days()},
    )


def _trash_days() -> int:
    return int(settings.PORTAL_DOCUMENT_TRASH_DAYS)


@customer_permission_required(Permission.DOCUMENTS_VIEW)
@require_safe
def trash(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    customer = _customer(request)
    page = Paginator(
        selectors.document_trash_list(user=user, customer=customer), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "documents/trash.html",
        {
            "customer": customer,
            "page": page,
            "can_restore": _can_upload(request),
            "trash_days": _trash_days(),
        },
    )


@customer_permission_required(Permission.DOCUMENTS_UPLOAD)
@require_POST
def restore(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _changeable(request, document_id, in_trash=True)
    services.document_restore(document=document, actor=signed_in_user(request), request=request)
    messages.success(request, _("%(title)s has been restored.") % {"title": document.title})
    return redirect("documents:detail", document_id=document.pk)
