from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: records cannot be added, changed or deleted through the application."""

    list_display = ("created_at", "action", "actor", "subject_user", "customer", "ip_address")
    list_filter = ("action",)
    search_fields = ("actor__email", "subject_user__email", "customer__name", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "subject_user", "customer")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
