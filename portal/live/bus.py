"""The event bus only wakes server processes; the ``LiveEvent`` table is the truth.

One interface, one backend per file, chosen by ``PORTAL_LIVE_BUS``:

- ``database`` (the embedded default): no extra server. Each process looks at
  the event table on a short tick (one indexed query), and a publish from
  the same process wakes it at once.
- ``postgres``: ``NOTIFY`` on publish, one ``LISTEN`` connection per process.
- ``redis``: ``PUBLISH`` on publish, one subscription per process.

Whatever the backend, a process also looks at the table now and then, so a
lost wake-up delays an event; it never loses one.

A publish may carry the event itself, signed (``hub.Event.sign``): a backend
that passes it on (Redis) lets a process hand the event out at once, without a
thread hop and a query, which under load is most of the delivery time. A
message that does not verify is only a wake-up.
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
# Hands a published message to the hub; False when it was not one it could use.
Deliver = Callable[[bytes], bool]

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

    def publish(self, event_id: int, message: bytes | None = None) -> None:
        """Called after commit, from any thread: wake every process that streams.

        ``message`` is the signed event, for backends that can carry it.
        """
        self.wake_local()
        self.publish_remote(event_id, message)

    @abstractmethod
    def publish_remote(self, event_id: int, message: bytes | None = None) -> None:
        """Wake the other processes."""

    @abstractmethod
    async def listen(self, wake: Wake, deliver: Deliver | None = None) -> None:
        """Run for the life of the process, calling ``wake`` whenever another one publishes
        (or ``deliver`` with the message, where the backend carries one)."""

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
