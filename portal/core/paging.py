"""A paginator whose cost does not grow with the length of the list.

Django's ``Paginator`` counts every row (``SELECT COUNT(*)``) on every page
view: for a customer with 100,000 requests that one query cost more than the
rest of the page. ``CappedPaginator`` counts at most a few pages past the one
asked for (``COUNT(*)`` over a ``LIMIT`` subquery, which an index serves), and
says whether there are more (``capped``), so a template can show "more than".
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property

# How many pages past the current one are counted.
PAGES_AHEAD = 10
# A page number beyond any list; larger ones (?page=99999999999999999999) would
# overflow the database's LIMIT.
MAX_PAGE = 1_000_000_000


class CappedPaginator(Paginator[Any]):
    def __init__(self, object_list: Any, per_page: int, *, pages_ahead: int | None = None) -> None:
        super().__init__(object_list, per_page)
        self.pages_ahead = PAGES_AHEAD if pages_ahead is None else pages_ahead
        self.wanted = 1
        self.capped = False

    def get_page(self, number: Any) -> Page[Any]:
        try:
            self.wanted = min(max(1, int(number)), MAX_PAGE)
        except (TypeError, ValueError):
            self.wanted = 1
        return super().get_page(number)

    @property
    def counted_pages(self) -> int:
        """The pages counted in full: with ``capped``, there are more than these."""
        return self.wanted + self.pages_ahead

    @property
    def counted_rows(self) -> int:
        return self.counted_pages * int(self.per_page)

    @cached_property
    def count(self) -> int:
        """The rows, counted up to one past ``counted_rows`` (so a next page shows)."""
        limit = self.counted_rows
        counted = int(self.object_list[: limit + 1].count())  # type: ignore[attr-defined]
        self.capped = counted > limit
        return counted
