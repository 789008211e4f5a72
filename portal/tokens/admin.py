from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.accounts.request import signed_in_user

from .models import PersonalAccessToken
from .services import token_revoke


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin[PersonalAccessToken]):
    """Staff may see tokens and revoke one (a leaked token, say), never create or change one."""

    list_display = ("name", "user", "customer", "scope", "created_at", "expires_at", "last_used_at")
    list_filter = ("scope",)
    search_fields = ("name", "user__email", "customer__name", "hint")
    readonly_fields = [f.name for f in PersonalAccessToken._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PersonalAccessToken]) -> None:
        staff = signed_in_user(request)
        for token in queryset:
            token_revoke(token=token, actor=staff, request=request)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
