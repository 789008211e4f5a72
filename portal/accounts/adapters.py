from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from portal.core.audit import audit_record
from portal.core.models import AuditAction


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_safe_url(self, url: str | None) -> bool:
        # Only paths on this site: never another host, never a scheme-relative URL.
        if not url:
            return False
        request = self.request
        allowed = {request.get_host()} if request is not None else set()
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts=allowed, require_https=request is not None and request.is_secure()
        )


class UserSessionsAdapter(DefaultUserSessionsAdapter):  # type: ignore[misc]
    def end_sessions(self, sessions: Any) -> None:
        sessions = list(sessions)
        super().end_sessions(sessions)
        request: HttpRequest | None = getattr(self, "request", None)
        if sessions:
            audit_record(
                action=AuditAction.SESSIONS_REVOKED,
                request=request,
                actor=sessions[0].user,
                data={"count": len(sessions)},
            )
