"""Every way into the portal, from its own configuration: the URL patterns Django
resolves, the API operations of the OpenAPI document, and the native ASGI
handlers the server's router mounts beside Django (the live stream)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

API_NAMESPACE = "api-v1"
# Names in the API's namespace that are not operations of its document.
API_EXTRA_NAMES = {"openapi-json", "api-root"}

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    """One route: ``key`` is its name (``namespace:name``) or, unnamed, its pattern."""

    key: str
    pattern: str
    params: tuple[str, ...]
    method: str = ""  # API operations only: the HTTP method of the operation
    callback: Callable[..., Any] | None = None

    @property
    def is_api(self) -> bool:
        return self.key.startswith("api:")

    def path(self, values: dict[str, str]) -> str:
        """The route's path with each parameter replaced by ``values[param]``."""
        if self.is_api:
            return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.pattern)
        path = _REGEX_GROUP.sub(lambda m: values[m.group(1)], self.pattern)
        path = _CONVERTER.sub(lambda m: values[m.group(2)], path)
        return "/" + path.replace("^", "").replace("$", "")


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None, Callable[..., Any]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield prefix + str(entry.pattern), name, entry.callback


def _params(pattern: str) -> tuple[str, ...]:
    groups = tuple(m.group(1) for m in _REGEX_GROUP.finditer(pattern))
    rest = _REGEX_GROUP.sub("", pattern)
    return groups + tuple(m.group(2) for m in _CONVERTER.finditer(rest))


def django_routes() -> list[Route]:
    """Every URL pattern but the API's operations (those come from its document)."""
    routes = []
    for pattern, name, callback in _walk(get_resolver().url_patterns):
        if name and name.startswith(f"{API_NAMESPACE}:"):
            if name.split(":", 1)[1] not in API_EXTRA_NAMES:
                continue
        routes.append(
            Route(key=name or pattern, pattern=pattern, params=_params(pattern), callback=callback)
        )
    return routes


def api_operation_names_in_urlconf() -> set[str]:
    return {
        name.split(":", 1)[1]
        for _, name, _ in _walk(get_resolver().url_patterns)
        if name and name.startswith(f"{API_NAMESPACE}:")
    } - API_EXTRA_NAMES


def api_routes() -> list[Route]:
    """Every operation of the OpenAPI document, as ``api:<operationId>``."""
    from portal.api import api

    document = api.get_openapi_schema()
    return [
        Route(
            key=f"api:{operation['operationId']}",
            pattern=path,
            params=tuple(re.findall(r"\{(\w+)\}", path)),
            method=method.upper(),
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def native_routes() -> list[Route]:
    """The paths the ASGI router serves itself, outside Django (``/live/events``, ``/metrics``)."""
    from portal.asgi import application
    from portal.live.stream import PATH

    prefixes = [prefix for prefix, _ in application.routes]
    assert prefixes == ["/live/", "/metrics"], (
        f"the router mounts {prefixes}: give each mount its routes in native_routes()"
    )
    return [
        Route(key=f"asgi:{PATH}", pattern=PATH, params=()),
        Route(key="asgi:/metrics", pattern="/metrics", params=()),
    ]


def all_routes() -> list[Route]:
    return django_routes() + api_routes() + native_routes()
