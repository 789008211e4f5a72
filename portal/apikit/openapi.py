"""The API object every app's router hangs on, and the OpenAPI document it describes.

The document is generated from the code (ninja's schemas) and then told what
ninja cannot know: every error is a problem document, which statuses each
operation may answer with, and what a 429 carries.
"""

from __future__ import annotations

import copy
from functools import wraps
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, path
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from .problems import PROBLEM_CONTENT_TYPE, problem_response

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "What kind of problem: a URI reference."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path that answered."},
        "request_id": {"type": "string", "description": "Quote it when you ask for help."},
        "errors": {
            "type": "array",
            "description": "With validation errors: one item per invalid field.",
            "items": {
                "type": "object",
                "required": ["in", "field", "message", "code"],
                "properties": {
                    "in": {"type": "string", "enum": ["body", "query", "path", "header"]},
                    "field": {"type": "string", "description": "Dotted path, e.g. `items.0`."},
                    "pointer": {"type": "string", "description": "JSON pointer into the body."},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}

ERROR_DESCRIPTIONS = {
    "400": "The body is not valid JSON.",
    "401": "No valid token or session.",
    "403": "The token may only read, CSRF failed, a second factor is required, or your "
    "role does not allow this.",
    "404": "No such object or customer (or not yours: it is the same answer), or no such page.",
    "409": "Not possible in the object's present state (e.g. cancelling a request in work).",
    "413": "The file is larger than the portal accepts.",
    "422": "Invalid fields: `errors` names each one.",
    "429": "Too many requests: retry after `Retry-After` seconds.",
    "500": "Something went wrong on our side.",
    "503": "The database is briefly unreachable: retry after `Retry-After` seconds.",
}


# Operations that may answer 409 because of the state of what they act on.
CONFLICTING = {
    "service_request_cancel",
    "service_request_reopen",
    "service_request_comment",
}


def _problem_response(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if code in {"429", "503"}:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        }
    return response


def _document_errors(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            has_path = any(p.get("in") == "path" for p in parameters)
            paged = any(p.get("in") == "query" and p.get("name") == "page" for p in parameters)
            body = "requestBody" in operation
            codes = ["403", "429", "500", "503"]
            if operation.get("security"):
                codes.append("401")
            if has_path or paged or parameters or body:
                codes.append("404")  # a missing or foreign object, page or customer
            if parameters or body:
                codes.append("422")
            if operation.get("operationId", "") in CONFLICTING:
                codes.append("409")
            if body:
                codes.append("400")
                if "multipart/form-data" in operation["requestBody"].get("content", {}):
                    codes.append("413")
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                schema = content.get("schema", {})
                if media_type == "multipart/form-data" and "properties" in schema:
                    # As for JSON bodies: a field the operation does not define is refused.
                    schema["additionalProperties"] = False
            # ninja keys its responses by int, openapi_extra by str: one key per status,
            # or the JSON has the same key twice (which Swagger UI refuses to read).
            merged: dict[str, Any] = {}
            for key in sorted(operation.get("responses", {}), key=lambda k: isinstance(k, str)):
                merged[str(key)] = operation["responses"][key]
            responses = operation["responses"] = merged
            for code in sorted(codes):
                responses.setdefault(code, _problem_response(code))


class PortalAPI(NinjaAPI):
    """ninja's API with problem details everywhere and a cached OpenAPI document."""

    _schema_cache: dict[str, OpenAPISchema]

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        cache = self.__dict__.setdefault("_schema_cache", {})
        key = repr((path_prefix, sorted((path_params or {}).items())))
        if key not in cache:
            schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            _document_errors(schema)
            cache[key] = schema
        return cast(OpenAPISchema, copy.deepcopy(cache[key]))

    def get_openapi_operation_id(self, operation: Any) -> str:
        # Short, stable ids (``customer_list``) instead of module paths.
        return str(operation.view_func.__name__)

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        result: list[URLResolver | URLPattern] = []
        for pattern in urls:
            if isinstance(pattern, URLPattern) and pattern.name == "api-root":
                result.append(path("", self._index, name="api-root"))
                continue
            if isinstance(pattern, URLPattern):
                pattern.callback = _problem_for_wrong_method(pattern.callback)
            result.append(pattern)
        return result

    def _index(self, request: HttpRequest) -> HttpResponse:
        base = request.build_absolute_uri(request.path)
        return JsonResponse(
            {
                "title": self.title,
                "version": self.version,
                "openapi": base + "openapi.json",
                "docs": base + "docs",
            }
        )


def _problem_for_wrong_method(view: Any) -> Any:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            return problem_response(
                request,
                405,
                f"This address answers {allowed}.",
                headers={"Allow": allowed},
            )
        return response

    return wrapped
