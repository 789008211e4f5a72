from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date

logger = logging.getLogger("portal.request")
security_logger = logging.getLogger("portal.security")

# Parts of a path that are secrets: allauth's password-reset and e-mail confirmation
# keys, invitation tokens. They are replaced in the logged path.
SECRET_URL_ARGUMENTS = frozenset({"key", "token", "uidb36", "uidb64"})
REDACTED = "[redacted]"

# A request id from a trusted proxy is kept if it looks like one; anything else
# is replaced, so a client cannot write arbitrary text into our logs.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestLogMiddleware:
    """Tags each request with an id and writes one structured line when it ends.

    The line holds the path without its query string: query strings can carry
    tokens (password-reset links, signed URLs) and must not reach the logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        path = loggable_path(request)
        logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user_id,
            },
        )
        if response.status_code in (401, 403):
            security_logger.warning(
                "access denied: %s %s %s",
                request.method,
                path,
                response.status_code,
                extra={
                    "request_id": request_id,
                    "status": response.status_code,
                    "user_id": user_id,
                    # Set by the access layer when a role lacks a permission.
                    "permission": getattr(request, "denied_permission", None),
                    "ip": request.META.get("REMOTE_ADDR"),
                },
            )
        return response


def loggable_path(request: HttpRequest) -> str:
    """The request's path with the secrets some URLs carry replaced."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    if match is not None:
        for name, value in match.kwargs.items():
            if name in SECRET_URL_ARGUMENTS and isinstance(value, str) and value:
                path = path.replace(value, REDACTED)
    return path


# What Django's add_never_cache_headers writes, set as it is: that function parses and
# rebuilds the header and formats the date on every signed-in page.
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
_expires_now: tuple[int, str] = (0, "")


def http_date_now() -> str:
    """The current time as an HTTP date, formatted once a second."""
    global _expires_now
    now = int(time.time())
    second, text = _expires_now
    if second != now:
        text = http_date(now)
        _expires_now = (now, text)
    return text


class PrivatePageCacheMiddleware:
    """Pages shown to a signed-in person must not be kept by browsers or proxies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response.headers["Cache-Control"] = NEVER_CACHE
            response.headers.setdefault("Expires", http_date_now())
        return response


class RefuseNulInPathMiddleware:
    """A path with a NUL character is a bad request, whatever route it would match.

    Path parameters go to the database (a request's reference, an invoice
    number, a back-office object id); PostgreSQL refuses NUL in any text it is
    given, which would turn such a URL into a server error. No portal URL has one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            raise SuspiciousOperation("NUL character in the path")
        return self.get_response(request)
