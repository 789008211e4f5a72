"""One hub per server process: one bus subscription, fan-out in memory.

The hub looks at the event table when the bus wakes it (and on a tick, in
case a wake-up was lost), and hands each new event to the open streams whose
viewer may see it. An idle stream costs no database connection and no thread.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.conf import settings
from django.db import connections
from django.utils.crypto import constant_time_compare, salted_hmac

from portal.core import metrics

from .audience import Viewer
from .bus import EventBus, get_bus

if TYPE_CHECKING:
    from .protocol import Wire

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# A committed event may carry a lower id than one seen before (ids are handed
# out before commit). Such a gap is waited for this long before it is given up
# as a rolled-back transaction.
GAP_PATIENCE = 10.0
FETCH_BATCH = 500
# A stream whose browser does not keep up is closed; it reconnects and replays.
MAX_QUEUED = 1000
# Events kept in memory, so a reconnecting stream replays without a query (at
# most twice this many are held between trims).
HISTORY = 1000
# Signs the events a bus carries: only a portal process can hand one to a browser.
BUS_SALT = "portal.live.bus"
# Connects authenticated together at most, and batches under way at once.
AUTH_BATCH = 500
AUTH_PARALLEL = 2
# With no stream open the hub stops reading the table, after this long: a
# reconnect storm finds it still following, with its history intact.
IDLE_AFTER = 60.0
# How often the one task that tends the handed-off streams looks at them (at most:
# twice per heartbeat when that is shorter). A look at 10,000 costs a few ms.
TEND_EVERY = 0.25


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

    def sign(self) -> bytes:
        """This event as a bus message: JSON behind an HMAC made with the SECRET_KEY."""
        body = json.dumps(
            [self.id, self.kind, self.customer_id, self.permission, self.user_id, self.staff,
             self.frame.decode()],
            separators=(",", ":"),
        ).encode()  # fmt: skip
        return salted_hmac(BUS_SALT, body, algorithm="sha256").hexdigest().encode() + b"." + body

    @classmethod
    def verified(cls, message: bytes) -> Event | None:
        """The event in a bus message, or None when it is not one signed by a portal process."""
        signature, _, body = message.partition(b".")
        expected = salted_hmac(BUS_SALT, body, algorithm="sha256").hexdigest().encode()
        if not body or not constant_time_compare(signature, expected):
            return None
        try:
            event_id, kind, customer_id, permission, user_id, staff, frame = json.loads(body)
        except ValueError:
            return None
        return cls(event_id, kind, customer_id, permission, user_id, staff, frame.encode())


class Stream:
    """One open connection's mailbox.

    Kept small on purpose (10,000 of them per process). Handed off from uvicorn
    (see ``protocol.py``), its ``wire`` takes each event straight to the socket.
    Otherwise a list holds events only while they wait, and while the connection
    waits for them, its task, which a wake-up interrupts (see ``stream._idle``).
    """

    __slots__ = ("viewer", "pending", "task", "closed", "wire")

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.pending: list[Event] | None = None
        self.task: asyncio.Task[Any] | None = None
        self.closed = False
        self.wire: Wire | None = None

    def push(self, event: Event) -> None:
        if self.closed:
            return
        if self.wire is not None:
            self.wire.send((event,))
            return
        if self.pending is None:
            self.pending = [event]
        elif len(self.pending) >= MAX_QUEUED:
            self.close()
            return
        else:
            self.pending.append(event)
        self.wake()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.wire is not None:
                self.wire.end()
            else:
                self.wake()

    def wake(self) -> None:
        """Interrupt the connection's wait, if it waits (its heartbeat timer calls this too)."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()

    def take(self) -> list[Event]:
        """The events waiting for this connection, oldest first."""
        pending, self.pending = self.pending, None
        return pending or []


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


class Batcher(Generic[T, R]):
    """Runs a blocking function over everything that waits for it, in batches, on an executor.

    Callers await their own item's result; while one batch runs, the next one
    gathers, so a burst of callers costs a few calls rather than one each.
    """

    def __init__(
        self,
        function: Callable[[list[T]], list[R]],
        executor: Executor,
        *,
        size: int,
        parallel: int,
    ) -> None:
        self.function = function
        self.executor = executor
        self.size = size
        self.parallel = parallel
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._drains: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._drains) < self.parallel:
            task = loop.create_task(self._drain())
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = self._waiting[: self.size]
            del self._waiting[: self.size]
            try:
                results = await loop.run_in_executor(
                    self.executor, _db_job, self.function, [item for item, _ in batch]
                )
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


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
        # One thread follows the table; AUTH_PARALLEL more authenticate (in batches) and
        # replay what memory no longer holds.
        self._poller = ThreadPoolExecutor(1, thread_name_prefix="live-poll")
        self.readers = ThreadPoolExecutor(AUTH_PARALLEL, thread_name_prefix="live-read")
        self.loop: asyncio.AbstractEventLoop | None = None
        # The newest events dispatched, sorted by id: every event above
        # ``history_floor`` that the hub dispatched is there (None: not following).
        self.history_ids: list[int] = []
        self.history: list[Event] = []
        self.history_floor: int | None = None
        self.empty_since: float | None = None
        from .authentication import authenticate_many

        self.authenticate = Batcher(
            authenticate_many, self.readers, size=AUTH_BATCH, parallel=AUTH_PARALLEL
        )

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.bus.add_local(self.loop, self.wake)
        self._tasks = [
            asyncio.create_task(self._follow(), name="live-follow"),
            asyncio.create_task(self.bus.listen(self.wake, self.receive), name="live-listen"),
            asyncio.create_task(self._tend(), name="live-tend"),
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

    def receive(self, message: bytes) -> bool:
        """Hand out an event the bus carried, at once; False when the message is not a
        signed event (then the table is read). The table stays the truth: an event
        whose message was lost is found there on the next look."""
        event = Event.verified(message)
        if event is None:
            return False
        if not self.idle:
            self.dispatch([event])
        return True

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
        async with self._resume_lock:
            if not self.idle:
                return
            loop = asyncio.get_running_loop()
            self.cursor = await loop.run_in_executor(self._poller, _db_job, _newest_id)
            self.seen_above_cursor.clear()
            self.gap_since = None
            self.history_ids, self.history = [], []
            self.history_floor = self.cursor
            self.idle = False
            self.wake()

    def missed(self, viewer: Viewer, after_id: int, limit: int) -> list[Event] | None:
        """The events after ``after_id`` that ``viewer`` may see, oldest first, at most
        ``limit``, from memory; None when the memory does not reach back that far."""
        if self.history_floor is None or after_id < self.history_floor:
            return None
        start = bisect.bisect_right(self.history_ids, after_id)
        found = []
        for event in self.history[start:]:
            if viewer.may_see(event):
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    def _remember(self, event: Event) -> None:
        if self.history_floor is None:
            return
        if not self.history_ids or event.id > self.history_ids[-1]:
            self.history_ids.append(event.id)
            self.history.append(event)
        else:  # a late commit of a lower id: rare, and near the end
            at = bisect.bisect_right(self.history_ids, event.id)
            self.history_ids.insert(at, event.id)
            self.history.insert(at, event)
        if len(self.history_ids) > 2 * HISTORY:
            cut = len(self.history_ids) - HISTORY
            self.history_floor = max(self.history_floor, self.history_ids[cut - 1])
            del self.history_ids[:cut], self.history[:cut]

    def _stop_following(self) -> None:
        self.idle = True
        self.empty_since = None
        self.history_ids, self.history = [], []
        self.history_floor = None

    def register(self, viewer: Viewer) -> Stream:
        stream = Stream(viewer)
        self.streams.add(stream)
        self.empty_since = None
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
        if not self.streams and self.empty_since is None:
            self.empty_since = time.monotonic()

    @staticmethod
    def _discard(index: dict[int, set[Stream]], key: int, stream: Stream) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(stream)
            if not members:
                del index[key]

    def streams_of(self, user_id: int) -> int:
        return len(self.by_user.get(user_id, ()))

    async def _tend(self) -> None:
        """Heartbeats and lifetimes of the handed-off streams: one task for them all,
        instead of a timer and a suspended task per stream."""
        while True:
            heartbeat = settings.PORTAL_LIVE_HEARTBEAT
            await asyncio.sleep(min(TEND_EVERY, heartbeat / 2))
            now = time.monotonic()
            for stream in list(self.streams):
                wire = stream.wire
                if wire is not None:
                    try:
                        wire.tend(now, heartbeat)
                    except Exception:  # one broken connection must not stop the others' heartbeats
                        logger.exception("live hub: tending a stream failed")
                        wire.transport.abort()

    # --- following the table ---------------------------------------------------

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.bus.poll_interval)
            self._wake.clear()
            if self.empty_since is not None and time.monotonic() - self.empty_since > IDLE_AFTER:
                self._stop_following()
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
            # Seen already: from the bus, from the table, or given up as rolled back.
            if event.id <= self.cursor or event.id in self.seen_above_cursor:
                continue
            self.seen_above_cursor.add(event.id)
            self._remember(event)
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


def _newest_id() -> int:
    """From the table itself, not the cached figure pages render (which may lag a
    moment): a cursor below the truth would send new streams events again."""
    from .models import LiveEvent

    return LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


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
