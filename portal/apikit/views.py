"""Pages around the API: the reference (Swagger UI, vendored), problem types, error handlers."""

from __future__ import annotations

import sys

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

from .problems import PROBLEM_TYPES, problem_response, server_problem

API_PREFIX = "/api/"
SWAGGER_UI = "vendor/swagger-ui-dist-5.35.0"


@require_safe
def docs(request: HttpRequest) -> HttpResponse:
    """The API reference, from vendored Swagger UI files and a static initialiser (no inline JS)."""
    return render(
        request,
        "apikit/docs.html",
        {
            "openapi_url": "/api/v1/openapi.json",
            "swagger": SWAGGER_UI,
            "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        },
    )


@require_safe
def problem_type(request: HttpRequest, slug: str) -> HttpResponse:
    """What a problem ``type`` means: the URI in an error's ``type`` leads here."""
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise Http404("No such problem type.")
    return render(request, "apikit/problem_type.html", {"problem": kind})


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Unknown addresses under /api/ answer with a problem document; pages with the page."""
    if request.path.startswith(API_PREFIX):
        return problem_response(request, 404, "There is nothing at this address.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """Under /api/ a problem document (503 with Retry-After when the database is down);
    pages get the portal's own error page."""
    from portal.core.views import server_error

    if request.path.startswith(API_PREFIX):
        return server_problem(request, sys.exc_info()[1])
    return server_error(request)
