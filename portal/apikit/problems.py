"""Every API error as an RFC 9457 problem document (``application/problem+json``).

One error format for the whole API: validation errors name their fields, a
missing or foreign object is the same 404, and an unexpected failure is a
500 problem whose details stay in the server log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

logger = logging.getLogger("portal.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


PROBLEM_TYPES = {
    p.slug: p
    for p in (
        ProblemType(
            "validation-error",
            422,
            "Your request has invalid fields",
            "One or more fields are missing, malformed or not allowed. `errors` lists each "
            "one with where it is (`in`: body, query or path), its `field` path, a `message` "
            "and a machine-readable `code`.",
        ),
        ProblemType(
            "malformed-request",
            400,
            "The request body is not valid JSON",
            "Send a JSON document with `Content-Type: application/json`.",
        ),
        ProblemType(
            "invalid-token",
            401,
            "Authentication required",
            "Send a valid personal access token as `Authorization: Bearer <token>`, or call "
            "from a signed-in browser session. Expired and revoked tokens, and tokens whose "
            "owner no longer belongs to the token's customer, do not authenticate.",
        ),
        ProblemType(
            "insufficient-scope",
            403,
            "The token may only read",
            "The token's access is read-only; changes need a token with read and write access.",
        ),
        ProblemType(
            "csrf-failed",
            403,
            "CSRF check failed",
            "A browser session must send the `X-CSRFToken` header (the value of the "
            "`csrftoken` cookie) with every request that changes something.",
        ),
        ProblemType(
            "mfa-required",
            403,
            "Two-factor authentication required",
            "Your organisation requires two-factor authentication. Set it up in the portal.",
        ),
        ProblemType(
            "permission-denied",
            403,
            "Not allowed",
            "Your role in this organisation does not allow this.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "Slow down: wait the number of seconds in the `Retry-After` header, then retry.",
        ),
    )
}


class ApiProblem(Exception):
    """Raise from an endpoint to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.errors = errors
        self.headers = headers or {}


def problem_response(
    request: HttpRequest | None,
    status: int,
    detail: str = "",
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    kind = PROBLEM_TYPES.get(slug or "")
    body: dict[str, Any] = {
        "type": kind.uri if kind else "about:blank",
        "title": kind.title if kind else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or (kind.description if kind else HTTPStatus(status).description),
    }
    if request is not None:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401:
        response.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return response


def _json_pointer(parts: list[str]) -> str:
    """RFC 6901: ``answers.cards`` is ``/answers/cards``; ``~`` and ``/`` are escaped."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def field_errors_from_ninja(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ninja's pydantic errors as ``{in, field, pointer, message, code}`` items."""
    result = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", [])]
        where = loc[0] if loc else "body"
        # A JSON body's location starts with the view's parameter name; clients never see it.
        path = loc[2:] if where == "body" else loc[1:]
        result.append(
            {
                # Form fields and files are parts of the (multipart) body.
                "in": "body" if where in {"form", "file"} else where,
                "field": ".".join(path),
                "pointer": _json_pointer(path) if path else "",
                "message": str(error.get("msg", "Invalid value.")),
                "code": str(error.get("type", "invalid")),
            }
        )
    return result


def field_errors_from_django(error: DjangoValidationError) -> list[dict[str, Any]]:
    """A service's ``ValidationError`` as body field errors."""
    if not hasattr(error, "error_dict"):
        return [
            {"in": "body", "field": "", "pointer": "", "message": m, "code": "invalid"}
            for m in error.messages
        ]
    result = []
    for field, field_errors in error.error_dict.items():
        path = "" if field == "__all__" else field
        for item in field_errors:
            for message in item.messages:
                result.append(
                    {
                        "in": "body",
                        "field": path,
                        "pointer": _json_pointer(path.split(".")) if path else "",
                        "message": message,
                        "code": item.code or "invalid",
                    }
                )
    return result


def _describe_fields(errors: list[dict[str, Any]]) -> str:
    names = sorted({e["field"] or e["in"] for e in errors})
    return ("Invalid: " + ", ".join(names) + ".") if names else "The request is not valid."


def install_handlers(api: NinjaAPI) -> None:
    """Map every exception an endpoint may raise onto one problem document."""

    @api.exception_handler(NinjaValidationError)
    def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        dropped = getattr(request, "documents_too_large", None)
        if dropped:  # the upload handler dropped a file over the size limit
            from portal.documents.services import file_too_large_error

            message = file_too_large_error(dropped[0]).messages[0]
            return problem_response(request, 413, message)
        errors = field_errors_from_ninja(exc.errors)
        return problem_response(
            request, 422, _describe_fields(errors), slug="validation-error", errors=errors
        )

    @api.exception_handler(DjangoValidationError)
    def _service_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        errors = field_errors_from_django(exc)
        detail = " ".join(e["message"] for e in errors) or "The request is not valid."
        return problem_response(request, 422, detail, slug="validation-error", errors=errors)

    @api.exception_handler(ApiProblem)
    def _problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            slug=exc.slug,
            errors=exc.errors,
            headers=exc.headers,
        )

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc, Throttled):
            wait = max(1, int(exc.wait or 1))
            return problem_response(
                request,
                429,
                f"Too many requests. Try again in {wait} seconds.",
                slug="rate-limited",
                headers={"Retry-After": str(wait)},
            )
        if isinstance(exc, AuthenticationError) or exc.status_code == 401:
            detail = exc.message if exc.message != "Unauthorized" else ""
            return problem_response(request, 401, detail, slug="invalid-token")
        if exc.status_code == 400:
            return problem_response(request, 400, slug="malformed-request")
        if exc.status_code == 403 and "CSRF" in exc.message:
            return problem_response(request, 403, slug="csrf-failed")
        return problem_response(request, exc.status_code, exc.message)

    @api.exception_handler(MultiPartParserError)
    def _bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        return problem_response(
            request, 400, "The multipart body cannot be read.", slug="malformed-request"
        )

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem_response(request, 413, "The request body is too large.")

    @api.exception_handler(SuspiciousOperation)
    def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        return problem_response(request, 400, "The request cannot be processed.")

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem_response(request, 404, str(exc) or "Not found.")

    @api.exception_handler(PermissionDenied)
    def _denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return problem_response(request, 403, str(exc), slug="permission-denied")

    @api.exception_handler(Exception)
    def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.error(
            "API error on %s %s",
            request.method,
            request.path,
            exc_info=exc,
            extra={"request_id": getattr(request, "request_id", None)},
        )
        return server_problem(request, exc)


def server_problem(request: HttpRequest, error: BaseException | None) -> HttpResponse:
    """A 500 problem; a database that cannot be reached is a 503 with Retry-After."""
    if isinstance(error, OperationalError | InterfaceError):
        return problem_response(
            request,
            503,
            "The service is briefly unavailable. Try again in a moment.",
            headers={"Retry-After": "30"},
        )
    return problem_response(request, 500, "Something went wrong on our side. It has been logged.")
