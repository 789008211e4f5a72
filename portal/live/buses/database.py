from __future__ import annotations

import asyncio

from django.conf import settings

from portal.live.bus import Deliver, EventBus, Wake


class DatabaseBus(EventBus):
    """No extra server: every process looks at the event table on a short tick."""

    def __init__(self) -> None:
        super().__init__()
        self.poll_interval = settings.PORTAL_LIVE_POLL_INTERVAL

    def publish_remote(self, event_id: int, message: bytes | None = None) -> None:
        # The other processes find the row on their next tick.
        pass

    async def listen(self, wake: Wake, deliver: Deliver | None = None) -> None:
        await asyncio.Event().wait()  # nothing to listen to
