"""The hub's bookkeeping without a server: gaps in ids, audiences, slow streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from portal.live import hub as hub_module
from portal.live.audience import Viewer
from portal.live.buses.database import DatabaseBus
from portal.live.hub import Event, Hub

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a browser test in the same worker leaves
    Playwright's event loop set on this one, where asyncio.run() refuses to start."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


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


def following(hub: Hub, cursor: int) -> Hub:
    """The hub as after ``resume``: following the table from ``cursor``, history empty."""
    hub.cursor, hub.history_floor, hub.idle = cursor, cursor, False
    return hub


def test_a_reconnect_replays_from_memory_what_its_viewer_may_see(hub: Hub) -> None:
    following(hub, 10)
    hub.dispatch([event(11, customer_id=10), event(12, customer_id=20), event(13, user_id=1)])
    viewer = Viewer(1, False, {10: frozenset()})
    assert [e.id for e in hub.missed(viewer, 10, 100) or []] == [11, 13]
    assert [e.id for e in hub.missed(viewer, 11, 100) or []] == [13]
    assert [e.id for e in hub.missed(viewer, 10, 1) or []] == [11]  # at most the limit
    assert hub.missed(viewer, 13, 100) == []


def test_memory_does_not_answer_for_what_it_never_saw(hub: Hub) -> None:
    viewer = Viewer(1, False, {})
    assert hub.missed(viewer, 0, 10) is None  # not following the table
    following(hub, 10)
    assert hub.missed(viewer, 9, 10) is None  # before the hub started following: the table


def test_a_late_committed_lower_id_is_replayed_in_order(hub: Hub) -> None:
    following(hub, 5)
    hub.dispatch([event(7, user_id=1)])
    hub.dispatch([event(6, user_id=1)])
    assert [e.id for e in hub.missed(Viewer(1, False, {}), 5, 10) or []] == [6, 7]


def test_memory_is_bounded_and_the_table_answers_beyond_it(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "HISTORY", 3)
    following(hub, 0)
    hub.dispatch([event(i, user_id=1) for i in range(1, 8)])  # 7 > 2 * HISTORY: trimmed
    assert hub.history_ids == [5, 6, 7]
    viewer = Viewer(1, False, {})
    assert hub.missed(viewer, 3, 10) is None
    assert [e.id for e in hub.missed(viewer, 4, 10) or []] == [5, 6, 7]


def test_the_hub_keeps_following_a_while_after_the_last_stream_closes(hub: Hub) -> None:
    following(hub, 0)
    stream = hub.register(Viewer(1, False, {}))
    hub.dispatch([event(1, user_id=1)])
    hub.unregister(stream)
    assert not hub.idle and hub.empty_since is not None  # a reconnect storm finds it awake
    hub.register(Viewer(1, False, {}))
    assert hub.empty_since is None
    hub._stop_following()
    assert hub.idle and hub.missed(Viewer(1, False, {}), 1, 10) is None


def test_the_batcher_runs_waiting_callers_together() -> None:
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        return [item * 2 for item in items]

    async def callers() -> list[int]:
        with ThreadPoolExecutor(1) as executor:
            batcher = hub_module.Batcher(double, executor, size=3, parallel=1)
            return await asyncio.gather(*(batcher(i) for i in range(7)))

    assert run(callers()) == [0, 2, 4, 6, 8, 10, 12]
    assert [len(call) for call in calls] == [3, 3, 1]  # one call per batch of waiting callers


def test_a_failed_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    def fails_on_zero(items: list[int]) -> list[int]:
        if 0 in items:
            raise RuntimeError("database gone")
        return items

    async def callers() -> list[object]:
        with ThreadPoolExecutor(1) as executor:
            batcher = hub_module.Batcher(fails_on_zero, executor, size=1, parallel=1)
            return await asyncio.gather(*(batcher(i) for i in range(3)), return_exceptions=True)

    results = run(callers())
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [1, 2]


def test_an_event_carried_by_the_bus_is_handed_out_at_once(hub: Hub) -> None:
    following(hub, 10)
    stream = hub.register(Viewer(1, False, {10: frozenset()}))
    assert hub.receive(event(11, customer_id=10).sign())
    assert drain(stream) == [11]
    assert hub.cursor == 11
    # The same event found in the table afterwards, or carried twice, is not sent again.
    hub.dispatch([event(11, customer_id=10)])
    assert hub.receive(event(11, customer_id=10).sign())
    assert drain(stream) == []


def test_a_bus_message_that_is_not_a_signed_event_only_wakes_the_hub(hub: Hub) -> None:
    following(hub, 10)
    stream = hub.register(Viewer(1, False, {10: frozenset()}))
    signature, _, body = event(11, customer_id=10).sign().partition(b".")
    forged = body.replace(b'"k"', b'"x"')
    for message in (b"11", signature + b"." + forged, b"." + body, b"0" * 64 + b"." + body):
        assert not hub.receive(message)
    assert drain(stream) == []


def test_a_signed_event_survives_the_bus_unchanged() -> None:
    original = event(7, customer_id=3, permission="requests.view", user_id=9, staff=True)
    assert Event.verified(original.sign()) == original
