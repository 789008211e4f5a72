"""The back office: the catalog, and the staff queue where requests are processed.

Catalog entries are configuration and are edited with Django's own forms.
Requests are never saved by the admin itself: the processing page calls the
same services as the customer side (with ``as_staff=True``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import backoffice
from .models import FieldDefinition, RequestType, ServiceRequest
from .selectors import staff_queue
from .workflow import OPEN_STATUSES, Status


class FieldDefinitionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = FieldDefinition
    extra = 1
    fields = ("position", "name", "label", "kind", "required", "help_text", "choices")


@admin.register(RequestType)
class RequestTypeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "category",
        "active",
        "sla_first_response_hours",
        "sla_resolution_hours",
        "fee",
    )
    list_filter = ("active", "category")
    search_fields = ("name", "category", "description")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (FieldDefinitionInline,)
    fieldsets = (
        (None, {"fields": ("name", "slug", "category", "description", "active", "position")}),
        (
            _("Service level"),
            {"fields": ("sla_first_response_hours", "sla_resolution_hours")},
        ),
        (_("Fee"), {"fields": ("fee_amount", "fee_currency")}),
    )

    @admin.display(description=_("fee"))
    def fee(self, obj: RequestType) -> str:
        return obj.fee_display or "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Types with requests are kept (PROTECT); switch them off with "offered" instead.
        return super().has_delete_permission(request, obj) and (
            obj is None or not obj.requests.exists()
        )


class QueueFilter(admin.SimpleListFilter):
    """The work queue: open requests unless asked otherwise."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("open", _("Open")),
            ("overdue", _("Overdue")),
            ("mine", _("Assigned to me")),
            ("unassigned", _("Open, unassigned")),
            ("done", _("Resolved, closed or cancelled")),
            ("all", _("Everything")),
        ]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or "open"
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or "open"
        open_q = Q(status__in=OPEN_STATUSES)
        if value == "open":
            return queryset.filter(open_q)
        if value == "overdue":
            return queryset.filter(open_q, due_at__lt=timezone.now())
        if value == "mine":
            return queryset.filter(open_q, assigned_to=request.user.pk)
        if value == "unassigned":
            return queryset.filter(open_q, assigned_to__isnull=True)
        if value == "done":
            return queryset.exclude(open_q)
        return queryset


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "reference",
        "title",
        "customer",
        "request_type",
        "status_badge",
        "assigned_to",
        "due",
    )
    list_display_links = ("reference", "title")
    list_filter = (QueueFilter, "status", "request_type__category", "request_type", "assigned_to")
    search_fields = ("reference", "title", "customer__name", "customer__number", "search_text")
    list_select_related = ("customer", "request_type", "assigned_to")
    list_per_page = 50
    date_hierarchy = "created_at"

    class Media:
        css = {"all": ("servicedesk/backoffice.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceRequest]:
        return staff_queue()

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return list(staff_queue().query.order_by)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: ServiceRequest) -> str:
        return format_html(
            '<span class="status-badge badge-{}">{}</span>',
            obj.status_colour,
            Status(obj.status).label,
        )

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, obj: ServiceRequest) -> str:
        if obj.due_at is None:
            return "—"
        stamp = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
        if obj.is_overdue:
            return format_html('<strong class="overdue">{} {}</strong>', _("Overdue"), stamp)
        return stamp

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "title": _("Service request queue: next deadline first"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        files = path(
            "<path:object_id>/files/<int:attachment_id>/",
            self.admin_site.admin_view(self.attachment_view),
            name="servicedesk_servicerequest_attachment",
        )
        return [files, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The processing page instead of a model form."""
        service_request = self.get_object(request, unquote(object_id))
        if service_request is None:
            response: HttpResponse = self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
            return response
        if not self.has_view_or_change_permission(request, service_request):
            raise PermissionDenied
        if request.method == "POST" and not self.has_change_permission(request, service_request):
            raise PermissionDenied
        return backoffice.process(request, model_admin=self, service_request=service_request)

    def attachment_view(
        self, request: HttpRequest, object_id: str, attachment_id: int
    ) -> HttpResponseBase:
        service_request = self.get_object(request, unquote(object_id))
        if service_request is None or not self.has_view_or_change_permission(
            request, service_request
        ):
            raise PermissionDenied
        return backoffice.attachment(service_request=service_request, attachment_id=attachment_id)
