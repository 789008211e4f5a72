"""One hub per server process: one bus subscription, fan-out in memory.

The hub looks at the event table when the bus wakes it (and on a tick, in
case a wake-up was lost), and hands each new event to the open streams whose
viewer may see it. An idle stream costs no database connection and no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections

from portal.core import metrics

from .audience import Viewer
from .bus import EventBus, get_bus

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A committed event may carry a lower id than one seen before (ids are handed
# out before commit). Such a gap is waited for this long before it is given up
# as a rolled-back transaction.
GAP_PATIENCE = 10.0
FETCH_BATCH = 500
# A stream whose browser does not keep up is closed; it reconnects and replays.
MAX_QUEUED = 1000


@dataclass(frozen=True)
class Event:
    """What the hub keeps of a ``LiveEvent``: its audience and its encoded message."""

    id: int
    kind: str
    customer_id: int | None
    permission: str
    user_id: int | None
    staff: bool
    frame: bytes

    @classmethod
    def from_row(cls, row: Any) -> Event:
        message = {"id": row.pk, "kind": row.kind, "topic": row.topic, "data": row.data}
        payload = json.dumps(message, separators=(",", ":"))
        return cls(
            id=row.pk,
            kind=row.kind,
            customer_id=row.customer_id,
            permission=row.permission,
            user_id=row.user_id,
            staff=row.staff,
            frame=f"id: {row.pk}\ndata: {payload}\n\n".encode(),
        )


class Stream:
    """One open connection's mailbox.

    Kept small on purpose (10,000 of them per process): a list only while
    events wait, and a future only while the connection waits for them.
    """

    __slots__ = ("viewer", "pending", "waiter", "closed")

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.pending: list[Event] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def push(self, event: Event) -> None:
        if self.closed:
            return
        if self.pending is None:
            self.pending = [event]
        elif len(self.pending) >= MAX_QUEUED:
            self.close()
            return
        else:
            self.pending.append(event)
        self._wake()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> list[Event]:
        """The events waiting for this connection, oldest first."""
        pending, self.pending = self.pending, None
        return pending or []

    async def wait(self, timeout: float) -> bool:
        """Wait until an event arrives or the stream closes; False on timeout."""
        if self.pending or self.closed:
            return True
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            return False
        finally:
            self.waiter = None
        return True


def _db_job(function: Any, *args: Any) -> Any:
    """Run a database read on an executor thread, then hand a pooled connection back.

    A PostgreSQL connection goes back to the pool for the page threads; an
    SQLite one stays with the thread, since opening it again costs more than
    the query.
    """
    try:
        return function(*args)
    finally:
        for connection in connections.all(initialized_only=True):
            if connection.vendor != "sqlite":
                connection.close()


class Hub:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.by_user: dict[int, set[Stream]] = defaultdict(set)
        self.by_customer: dict[int, set[Stream]] = defaultdict(set)
        self.staff: set[Stream] = set()
        self.streams: set[Stream] = set()
        self.cursor = 0
        self.seen_above_cursor: set[int] = set()
        self.gap_since: float | None = None
        self._wake = asyncio.Event()
        # With no open stream the hub reads nothing; the first stream resumes it.
        self.idle = True
        self._resume_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        # One thread follows the table; a few more authenticate and replay.
        self._poller = ThreadPoolExecutor(1, thread_name_prefix="live-poll")
        self.readers = ThreadPoolExecutor(4, thread_name_prefix="live-read")
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.bus.add_local(self.loop, self.wake)
        self._tasks = [
            asyncio.create_task(self._follow(), name="live-follow"),
            asyncio.create_task(self.bus.listen(self.wake), name="live-listen"),
        ]

    async def stop(self) -> None:
        self.bus.remove_local(self.wake)
        for stream in list(self.streams):
            stream.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._poller.shutdown(wait=False, cancel_futures=True)
        self.readers.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    async def read(self, function: Any, *args: Any) -> Any:
        """Run a blocking database read for a stream, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self.readers, _db_job, function, *args
        )

    # --- streams ---------------------------------------------------------------

    async def resume(self) -> None:
        """Start following the table from its newest event, if no stream was open.

        Called after a new stream registered and before it replays what it
        missed, so every event is either in its replay or delivered by the hub.
        """
        from .selectors import live_event_last_id

        async with self._resume_lock:
            if not self.idle:
                return
            loop = asyncio.get_running_loop()
            self.cursor = await loop.run_in_executor(self._poller, _db_job, live_event_last_id)
            self.seen_above_cursor.clear()
            self.gap_since = None
            self.idle = False
            self.wake()

    def register(self, viewer: Viewer) -> Stream:
        stream = Stream(viewer)
        self.streams.add(stream)
        metrics.LIVE_STREAMS.inc()
        self.by_user[viewer.user_id].add(stream)
        for customer_id in viewer.grants:
            self.by_customer[customer_id].add(stream)
        if viewer.is_staff:
            self.staff.add(stream)
        return stream

    def unregister(self, stream: Stream) -> None:
        stream.closed = True
        if stream in self.streams:
            metrics.LIVE_STREAMS.dec()
        self.streams.discard(stream)
        viewer = stream.viewer
        self._discard(self.by_user, viewer.user_id, stream)
        for customer_id in viewer.grants:
            self._discard(self.by_customer, customer_id, stream)
        self.staff.discard(stream)
        if not self.streams:
            self.idle = True

    @staticmethod
    def _discard(index: dict[int, set[Stream]], key: int, stream: Stream) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(stream)
            if not members:
                del index[key]

    def streams_of(self, user_id: int) -> int:
        return len(self.by_user.get(user_id, ()))

    # --- following the table ---------------------------------------------------

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.bus.poll_interval)
            self._wake.clear()
            if self.idle:
                continue
            try:
                rows = await loop.run_in_executor(self._poller, _db_job, _fetch_after, self.cursor)
            except Exception:
                logger.warning("live hub: reading events failed; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            self.dispatch(rows)
            if len(rows) == FETCH_BATCH:
                self._wake.set()  # there is more

    def dispatch(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.id in self.seen_above_cursor:
                continue
            self.seen_above_cursor.add(event.id)
            self._deliver(event)
        self._advance_cursor()

    def _advance_cursor(self) -> None:
        while self.cursor + 1 in self.seen_above_cursor:
            self.cursor += 1
            self.seen_above_cursor.discard(self.cursor)
        if not self.seen_above_cursor:
            self.gap_since = None
            return
        # Ids above a missing one arrived: wait for it a while, then give it up.
        now = time.monotonic()
        if self.gap_since is None:
            self.gap_since = now
        elif now - self.gap_since > GAP_PATIENCE:
            self.cursor += 1
            self.gap_since = None
            self._advance_cursor()

    def _deliver(self, event: Event) -> None:
        targets: set[Stream] = set()
        if event.user_id is not None:
            targets |= self.by_user.get(event.user_id, set())
        if event.customer_id is not None:
            targets |= self.by_customer.get(event.customer_id, set())
        if event.staff:
            targets |= self.staff
        for stream in targets:
            if stream.viewer.may_see(event):
                if event.kind == "access.changed":
                    # Memberships changed: the stream reconnects and is authorised afresh.
                    stream.close()
                else:
                    stream.push(event)


def _fetch_after(cursor: int) -> list[Event]:
    from .models import LiveEvent

    rows = LiveEvent.objects.filter(pk__gt=cursor).order_by("pk")[:FETCH_BATCH]
    return [Event.from_row(row) for row in rows]


_hub: Hub | None = None
_hub_lock: asyncio.Lock | None = None


async def get_hub() -> Hub:
    """This process's hub, started on first use."""
    global _hub, _hub_lock
    if _hub is not None:
        return _hub
    if _hub_lock is None:
        _hub_lock = asyncio.Lock()
    async with _hub_lock:
        if _hub is None:
            hub = Hub(get_bus())
            await hub.start()
            _hub = hub
    return _hub


async def stop_hub() -> None:
    global _hub, _hub_lock
    if _hub is not None:
        await _hub.stop()
    _hub = None
    _hub_lock = None
