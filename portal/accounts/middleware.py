from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from portal.accounts.session_store import reading_user_of
from portal.core.audit import audit_record
from portal.core.models import AuditAction

SESSION_STARTED = "portal_session_started"
SESSION_LAST_SEEN = "portal_session_last_seen"
# Writing the session on every request costs database writes (the session, the
# session's activity row); a twelfth of the idle limit, at most 5 minutes, is
# precision enough for it.
LAST_SEEN_PRECISION_MAX = 300
# Sessions first seen together (everyone after a restart, or at nine in the morning)
# would come due together at every interval: each session's interval is shorter by
# up to a quarter, fixed by its key.
LAST_SEEN_SPREAD = 0.25


def last_seen_precision(session_key: str | None = None) -> int:
    """Seconds a session's last-seen time may lag behind its last request; given a
    session key, that session's own interval, which is up to a quarter shorter."""
    precision = max(1, min(LAST_SEEN_PRECISION_MAX, settings.PORTAL_SESSION_IDLE_TIMEOUT // 12))
    if not session_key:
        return precision
    share = zlib.crc32(session_key.encode()) / 2**32  # in [0, 1), the same for the session
    return max(1, round(precision * (1 - LAST_SEEN_SPREAD * share)))


Middleware = Callable[[HttpRequest], HttpResponse]


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, with the user's version as read together with the session: while the
    request's user is read, its session is the one the user's check looks at
    (``portal.accounts.session_store``), and no other request's."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _read_user(request))  # type: ignore[assignment]


def _read_user(request: HttpRequest) -> Any:
    token = reading_user_of.set(request.session)
    try:
        return auth_middleware.get_user(request)
    finally:
        reading_user_of.reset(token)


def session_expired(session: Any, now: int) -> bool:
    """Whether a signed-in session is past its absolute lifetime or idle limit."""
    started: int | None = session.get(SESSION_STARTED)
    if started is None:
        return False
    last_seen: int = session.get(SESSION_LAST_SEEN, started)
    return (
        now - started > settings.PORTAL_SESSION_MAX_AGE
        or now - last_seen > settings.PORTAL_SESSION_IDLE_TIMEOUT
    )


class SessionLimitsMiddleware:
    """Ends a signed-in session after an idle period and after an absolute lifetime."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            started: int | None = request.session.get(SESSION_STARTED)
            if started is None:
                request.session[SESSION_STARTED] = now
                request.session[SESSION_LAST_SEEN] = now
                request.portal_session_touched = True  # type: ignore[attr-defined]
                return self.get_response(request)
            if session_expired(request.session, now):
                if request.path.startswith("/api/"):
                    # The API answers 401 itself; a redirect to a sign-in page helps no client.
                    self._sign_out(request)
                    return self.get_response(request)
                return self._end_session(request)
            last_seen: int = request.session.get(SESSION_LAST_SEEN, started)
            if now - last_seen >= last_seen_precision(request.session.session_key):
                request.session[SESSION_LAST_SEEN] = now
                request.portal_session_touched = True  # type: ignore[attr-defined]
        return self.get_response(request)

    @staticmethod
    def _sign_out(request: HttpRequest) -> None:
        user = request.user
        logout(request)
        audit_record(action=AuditAction.SESSION_EXPIRED, request=request, actor=user)  # type: ignore[arg-type]

    @classmethod
    def _end_session(cls, request: HttpRequest) -> HttpResponse:
        cls._sign_out(request)
        messages.info(request, _("Your session has ended. Please sign in again."))
        return redirect_to_login(request.get_full_path())


class SessionActivityMiddleware:
    """Keeps the "active sessions" list (allauth's user sessions) up to date, cheaply.

    allauth's own middleware writes the session row on every request; this one
    writes it only when the session's last-seen time moved (a twelfth of the idle
    limit, at most every 5 minutes), so a page view usually costs no write at all.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            getattr(request, "portal_session_touched", False)
            and request.user.is_authenticated
            and request.session.session_key
        ):
            from .services import session_activity_record

            session_activity_record(request)
        return self.get_response(request)


class ClearSiteDataOnSignOutMiddleware:
    """After signing out, the browser drops what it cached or stored for the portal."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if (
            was_signed_in
            and request.method == "POST"
            and request.path == SIGN_OUT_PATH
            and not request.user.is_authenticated
        ):
            response["Clear-Site-Data"] = '"cache", "storage"'
        return response


SIGN_OUT_PATH = "/accounts/logout/"


class UserLanguageMiddleware:
    """A signed-in person sees the portal in the language of their profile."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        language = getattr(user, "preferred_language", "") if user.is_authenticated else ""
        if language and language != getattr(request, "LANGUAGE_CODE", None):
            request.LANGUAGE_CODE = language
            # override, not activate: the thread's language is restored after the
            # response, so work done later on this thread is not in this person's language.
            with translation.override(language):
                response = self.get_response(request)
        else:
            response = self.get_response(request)
        if language:
            response.headers.setdefault("Content-Language", language)
        return response


# Paths a person without a second factor may still reach, so they can set one up.
# The API enforces the same rule itself, answering 403 instead of redirecting.
MFA_EXEMPT_PREFIXES = (
    "/accounts/",
    "/static/",
    "/healthz",
    "/readyz",
    "/i18n/",
    "/dev/outbox/",
    "/api/",
)


def mfa_required_for(request: HttpRequest) -> bool:
    """Whether this user must have a second factor: staff always, else by policy."""
    from portal.customers.access import user_memberships

    user = request.user
    if user.is_staff:
        return True
    if settings.PORTAL_REQUIRE_MFA and user_memberships(request):
        return True
    return any(m.customer.require_mfa for m in user_memberships(request))


def second_factor_present(request: HttpRequest) -> bool:
    """A second factor enrolled here, or, for customer users, one the identity provider used.

    A provider sign-in counts as two-factor only when its ID token's ``amr``
    names ``mfa``; staff always need the portal's own second factor for the
    back office.
    """
    from portal.accounts.oidc.session import provider_asserted_mfa

    user = request.user
    if is_mfa_enabled(user):
        return True
    return not user.is_staff and provider_asserted_mfa(request)


class RequireMFAMiddleware:
    """Sends people who must use a second factor, and have none, to set one up.

    Staff need one for the back office; every customer user needs one when
    PORTAL_REQUIRE_MFA is on; members of a customer that requires it need one.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and (not user.is_staff or request.path.startswith("/backoffice/"))
            and mfa_required_for(request)
            and not second_factor_present(request)
        ):
            if user.is_staff:
                text = _("Staff must set up two-factor authentication to use the back office.")
            else:
                text = _(
                    "Your organisation requires two-factor authentication. Set it up to go on."
                )
            messages.warning(request, text)
            return redirect("mfa_index")
        return self.get_response(request)
