"""The hub's bookkeeping without a server: gaps in ids, audiences, slow streams."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from portal.live import hub as hub_module
from portal.live.audience import Viewer
from portal.live.buses.database import DatabaseBus
from portal.live.hub import Event, Hub


def event(event_id: int, **audience: object) -> Event:
    fields: dict[str, object] = {"customer_id": None, "permission": "", "user_id": None}
    fields.update(audience)
    fields.setdefault("staff", False)
    return Event(id=event_id, kind="k", frame=f"id: {event_id}\n\n".encode(), **fields)  # type: ignore[arg-type]


def drain(stream: hub_module.Stream) -> list[int]:
    """The ids waiting for ``stream``, then -1 if it was closed."""
    return [event.id for event in stream.take()] + ([-1] if stream.closed else [])


@pytest.fixture
def hub() -> Hub:
    return Hub(DatabaseBus())


def test_events_go_to_the_streams_that_may_see_them(hub: Hub) -> None:
    member = hub.register(Viewer(1, False, {10: frozenset({"requests.view"})}))
    billing = hub.register(Viewer(2, False, {10: frozenset({"invoices.view"})}))
    other = hub.register(Viewer(3, False, {20: frozenset({"requests.view"})}))
    staff = hub.register(Viewer(4, True, {}))
    hub.dispatch(
        [
            event(1, customer_id=10, permission="requests.view"),
            event(2, customer_id=10),  # any member
            event(3, user_id=2),
            event(4, staff=True),
        ]
    )
    assert drain(member) == [1, 2]
    assert drain(billing) == [2, 3]
    assert drain(other) == []
    assert drain(staff) == [4]


def test_a_late_committed_lower_id_is_still_delivered_once(hub: Hub) -> None:
    stream = hub.register(Viewer(1, False, {10: frozenset()}))
    hub.cursor = 5
    hub.dispatch([event(7, customer_id=10)])  # 6 is not committed yet
    assert hub.cursor == 5
    hub.dispatch([event(7, customer_id=10), event(6, customer_id=10)])
    assert drain(stream) == [7, 6]
    assert hub.cursor == 7
    assert not hub.seen_above_cursor


def test_a_gap_that_never_fills_is_given_up(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.cursor = 5
    hub.dispatch([event(7, user_id=1)])
    assert hub.cursor == 5
    later = time.monotonic() + hub_module.GAP_PATIENCE + 1
    monkeypatch.setattr("portal.live.hub.time", SimpleNamespace(monotonic=lambda: later))
    hub.dispatch([])
    assert hub.cursor == 7


def test_a_stream_that_falls_behind_is_closed(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_QUEUED", 3)
    stream = hub.register(Viewer(1, False, {}))
    hub.dispatch([event(i, user_id=1) for i in range(1, 6)])
    assert stream.closed
    assert drain(stream) == [1, 2, 3, -1]


def test_unregistering_leaves_no_trace(hub: Hub) -> None:
    stream = hub.register(Viewer(1, True, {10: frozenset(), 11: frozenset()}))
    hub.unregister(stream)
    assert not hub.by_user and not hub.by_customer and not hub.staff and not hub.streams
