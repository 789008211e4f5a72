from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
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

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        # Someone who signs up on a German page keeps German once signed in: the
        # profile's language (which wins over the browser's) starts as the page's.
        language = translation.get_language()
        if language in dict(settings.LANGUAGES):
            user.preferred_language = language
        return super().save_user(request, user, form, commit)

    def login(self, request: HttpRequest, user: Any) -> None:
        super().login(request, user)
        # A language picked with the switch just before signing in is the person's
        # latest choice: keep it in the profile rather than fall back to the old one.
        from .services import profile_update

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen in dict(settings.LANGUAGES) and chosen != user.preferred_language:
            profile_update(user=user, data={"preferred_language": chosen}, request=request)


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
