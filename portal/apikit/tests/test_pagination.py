"""Kept list windows: plain JSON values under a key that names their shape."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from pydantic import BaseModel

from portal.apikit.pagination import Mapped, _kept_window, shape_of


class Item(BaseModel):
    name: str
    at: dt.datetime


class ItemWithMore(BaseModel):
    name: str
    at: dt.datetime
    more: int


class Rows:
    """A stand-in for a queryset: counted and sliced, and it says how often."""

    def __init__(self, items: list[int]) -> None:
        self.items = items
        self.reads = 0

    def count(self) -> int:
        self.reads += 1
        return len(self.items)

    def __getitem__(self, window: slice) -> list[int]:
        self.reads += 1
        return self.items[window]


def test_a_kept_window_holds_json_values_and_is_read_once() -> None:
    at = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)
    rows = Rows(list(range(5)))
    mapped: Mapped[int, Item] = Mapped(rows, lambda n: Item(name=f"n{n}", at=at), kept_under="k")  # type: ignore[arg-type]
    assert _kept_window(mapped, "k", 2, 2) == (
        5,
        [
            {"name": "n2", "at": "2026-11-27T04:00:00Z"},
            {"name": "n3", "at": "2026-11-27T04:00:00Z"},
        ],
    )
    assert cache.get("k:2:2") == [
        {"name": "n2", "at": "2026-11-27T04:00:00Z"},
        {"name": "n3", "at": "2026-11-27T04:00:00Z"},
    ]
    assert rows.reads == 2
    assert _kept_window(mapped, "k", 2, 2)[0] == 5
    assert rows.reads == 2  # count and window from the cache
    assert _kept_window(mapped, "k", 6, 2) == (5, None)  # past the end: nothing read
    assert rows.reads == 2


def test_the_shape_changes_with_what_an_item_holds() -> None:
    assert shape_of(Item) == shape_of(Item)
    assert shape_of(Item) != shape_of(ItemWithMore)
