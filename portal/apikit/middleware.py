"""The API over plain HTTP is refused, not redirected.

A redirect would teach an API client that plain HTTP works, after it already
sent its token in the clear; a refusal makes the mistake visible at once
(ASVS 4.1.2). Pages keep the redirect, which browsers need.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal.apikit.problems import problem_response

API_PREFIX = "/api/"


class ApiHttpsOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.SECURE_SSL_REDIRECT
            and request.path.startswith(API_PREFIX)
            and not request.is_secure()
        ):
            return problem_response(
                request,
                403,
                "The API answers only over HTTPS. Send this request to the https:// address; "
                "if a token was sent, revoke it and create a new one.",
            )
        return self.get_response(request)
