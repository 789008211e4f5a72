"""Back office: staff share documents with a customer and look after scans. Every write
goes through the services, like everywhere else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.accounts.request import signed_in_user
from portal.customers.models import Customer

from . import services
from .models import Category, Document, DocumentVersion
from .responses import download_response


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}


class ShareForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.all())
    file = forms.FileField(label=_("File"))
    title = forms.CharField(
        label=_("Title"), required=False, help_text=_("Empty: the file's name.")
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), required=False
    )
    request_reference = forms.CharField(
        label=_("Service request"),
        required=False,
        max_length=40,
        help_text=_("e.g. SR-2026-000123"),
    )


class VersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DocumentVersion
    extra = 0
    can_delete = False
    fields = (
        "number",
        "file_name",
        "size",
        "content_type",
        "scan_status",
        "scan_detail",
        "uploaded_by",
        "uploaded_at",
        "download_link",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("file"))
    def download_link(self, version: DocumentVersion) -> str:
        if not version.pk or not version.is_downloadable:
            return "—"
        url = reverse("admin:documents_version_download", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only records; sharing a new document has its own form (the button above the list)."""

    list_display = ("title", "customer", "category", "source", "status", "updated_at", "deleted_at")
    list_filter = ("source", "category", "current_version__scan_status")
    search_fields = ("title", "customer__name", "customer__number", "request_reference")
    list_select_related = ("customer", "category", "current_version")
    date_hierarchy = "created_at"
    inlines = [VersionInline]
    actions = ["rescan"]
    readonly_fields = (
        "customer",
        "title",
        "category",
        "source",
        "created_by",
        "request_reference",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
    )
    fields = readonly_fields
    change_list_template = "admin/documents/document/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("virus check"))
    def status(self, document: Document) -> str:
        version = document.current_version
        return version.status.short_label if version is not None else "—"

    @admin.action(description=_("Check the newest versions for viruses again"))
    def rescan(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        count = 0
        for document in queryset.select_related("current_version"):
            if document.current_version is not None:
                services.document_version_rescan(version=document.current_version)
                count += 1
        self.message_user(
            request, _("%(count)d version(s) queued for a new check.") % {"count": count}
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("share/", self.admin_site.admin_view(self.share_view), name="documents_share"),
            path(
                "versions/<int:version_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="documents_version_download",
            ),
        ]
        return own + super().get_urls()

    def share_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("documents.view_document"):
            raise Http404
        form = ShareForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = services.document_share(
                    customer=form.cleaned_data["customer"],
                    shared_by=signed_in_user(request),
                    file=form.cleaned_data["file"],
                    title=form.cleaned_data["title"] or None,
                    category=form.cleaned_data["category"],
                    request_reference=form.cleaned_data["request_reference"] or None,
                    request=request,
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                messages.success(
                    request,
                    _(
                        "%(title)s has been shared with %(customer)s. Its members are told once "
                        "the virus check has passed."
                    )
                    % {"title": version.document.title, "customer": version.document.customer.name},
                )
                return redirect("admin:documents_document_change", version.document_id)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Share a document with a customer"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/documents/document/share.html", context)

    def download_view(self, request: HttpRequest, version_id: int) -> HttpResponseBase:
        if not request.user.has_perm("documents.view_document"):
            raise Http404
        version = (
            DocumentVersion.objects.select_related("document__customer")
            .filter(pk=version_id)
            .first()
        )
        if version is None:
            raise Http404
        try:
            handle = services.document_version_open(
                version=version, user=signed_in_user(request), request=request
            )
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return redirect("admin:documents_document_change", version.document_id)
        return download_response(
            handle, file_name=version.file_name, content_type=version.content_type,
            size=version.size,
        )  # fmt: skip
