"""Page-number pagination with ``next`` and ``previous`` links.

Every list answers ``{count, next, previous, results}``. Links are absolute
and keep the client's other query parameters. A page past the end is a 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase
from pydantic import BaseModel

from portal.core.fragments import FRAGMENT_TTL

Row = TypeVar("Row")
Out = TypeVar("Out")


class Mapped(Generic[Row, Out]):
    """A queryset the paginator counts and slices, turned into schemas one page at a time
    (for answers that need more than the row, e.g. links built from the request).

    With ``kept_under`` (a key that holds the versions of everything the list shows, see
    ``portal.core.fragments.versions``), the count and each page are kept in the cache
    there, and a list asked for again is answered without a query.
    """

    def __init__(
        self,
        queryset: QuerySet[Any],
        convert: Callable[[Row], Out],
        *,
        kept_under: str | None = None,
    ) -> None:
        self.queryset = queryset
        self.convert = convert
        self.kept_under = kept_under

    def __len__(self) -> int:
        return int(self.queryset.count())

    def __getitem__(self, window: slice) -> list[Out]:
        return [self.convert(row) for row in self.queryset[window]]


# No database is asked for an offset past this: it keeps offsets inside 64 bits
# whatever a client sends, long before any real list gets there.
MAX_PAGE = 1_000_000


class PagePagination(PaginationBase):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
        page_size: int | None = Field(
            None,
            ge=1,
            le=settings.PORTAL_API_MAX_PAGE_SIZE,
            description=(
                f"Items per page (default {settings.PORTAL_API_PAGE_SIZE}, "
                f"at most {settings.PORTAL_API_MAX_PAGE_SIZE})."
            ),
        )

    class Output(Schema):
        count: int = Field(description="Items on all pages together.")
        next: str | None = Field(description="Link to the next page, if any.")
        previous: str | None = Field(description="Link to the previous page, if any.")
        results: list[Any]

    items_attribute: str = "results"

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Input, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        size = min(
            pagination.page_size or settings.PORTAL_API_PAGE_SIZE,
            settings.PORTAL_API_MAX_PAGE_SIZE,
        )
        page = pagination.page
        start = (page - 1) * size
        if isinstance(queryset, Mapped) and queryset.kept_under:
            count, results = _kept_window(queryset, queryset.kept_under, start, size)
        else:
            count = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
            results = None
        pages = max(1, -(-count // size))
        if page > pages:
            raise Http404(f"There is no page {page}; the last page is {pages}.")
        if results is None:
            results = list(queryset[start : start + size])
        return {
            "count": count,
            "next": _link(request, page + 1) if page < pages else None,
            "previous": _link(request, page - 1) if page > 1 else None,
            "results": results,
        }


def _kept_window(
    mapped: Mapped[Any, Any], key: str, start: int, size: int
) -> tuple[int, list[Any] | None]:
    """The list's count and the window from ``start``, from the cache where kept; what is
    missing is read and kept. The window is None when it lies past the end."""
    count_key, window_key = f"{key}:count", f"{key}:{start}:{size}"
    found = cache.get_many([count_key, window_key])
    count = found.get(count_key)
    if not isinstance(count, int):
        count = len(mapped)
        cache.set(count_key, count, FRAGMENT_TTL)
    if start and start >= count:
        return count, None
    window = found.get(window_key)
    if not isinstance(window, list):
        # Kept as JSON values, never as pickled schema objects: a copy made by another
        # release is then only ever data (the key should also name the shape, see
        # ``shape_of``).
        window = [_plain(item) for item in mapped[start : start + size]]
        cache.set(window_key, window, FRAGMENT_TTL)
    return count, window


def _plain(item: Any) -> Any:
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else item


def shape_of(schema: type[BaseModel]) -> str:
    """A short digest of ``schema``'s JSON Schema, for the key of a kept list: a release
    that changes what an item holds never reads the copies of the one before."""
    text = json.dumps(schema.model_json_schema(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _link(request: HttpRequest, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
