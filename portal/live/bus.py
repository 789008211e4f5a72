"""The event bus only wakes server processes; the ``LiveEvent`` table is the truth.

One interface, one backend per file, chosen by ``PORTAL_LIVE_BUS``:

- ``database`` (the embedded default): no extra server. Each process looks at
  the event table on a short tick (one indexed query), and a publish from
  the same process wakes it at once.
- ``postgres``: ``NOTIFY`` on publish, one ``LISTEN`` connection per process.
- ``redis``: ``PUBLISH`` on publish, one subscription per process.

Whatever the backend, a process also looks at the table now and then, so a
lost wake-up delays an event; it never loses one.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

Wake = Callable[[], None]

BACKENDS = {
    "database": "portal.live.buses.database.DatabaseBus",
    "postgres": "portal.live.buses.postgres.PostgresBus",
    "redis": "portal.live.buses.redis.RedisBus",
}


class EventBus(ABC):
    #: Seconds between looks at the event table when nothing woke the process.
    poll_interval: float = 5.0

    def __init__(self) -> None:
        self._local: list[tuple[asyncio.AbstractEventLoop, Wake]] = []
        self._lock = threading.Lock()

    def publish(self, event_id: int) -> None:
        """Called after commit, from any thread: wake every process that streams."""
        self.wake_local()
        self.publish_remote(event_id)

    @abstractmethod
    def publish_remote(self, event_id: int) -> None:
        """Wake the other processes."""

    @abstractmethod
    async def listen(self, wake: Wake) -> None:
        """Run for the life of the process, calling ``wake`` whenever another one publishes."""

    # Hubs in this process register here, so a publish wakes them without a round trip.
    def add_local(self, loop: asyncio.AbstractEventLoop, wake: Wake) -> None:
        with self._lock:
            self._local.append((loop, wake))

    def remove_local(self, wake: Wake) -> None:
        with self._lock:
            self._local = [(loop, w) for loop, w in self._local if w is not wake]

    def wake_local(self) -> None:
        with self._lock:
            targets = list(self._local)
        for loop, wake in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake)


@cache
def get_bus() -> EventBus:
    name = settings.PORTAL_LIVE_BUS
    bus: EventBus = import_string(BACKENDS[name])()
    return bus
