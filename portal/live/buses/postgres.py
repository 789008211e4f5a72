from __future__ import annotations

import asyncio
import logging

import psycopg
from django.db import connection

from portal.live.bus import Deliver, EventBus, Wake

logger = logging.getLogger(__name__)
CHANNEL = "portal_live"


class PostgresBus(EventBus):
    """PostgreSQL LISTEN/NOTIFY: one listening connection per process."""

    def publish_remote(self, event_id: int, message: bytes | None = None) -> None:
        # The id only: NOTIFY payloads are small, and the listener reads the table.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(event_id)])

    async def listen(self, wake: Wake, deliver: Deliver | None = None) -> None:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    wake()  # catch up on anything published while we were away
                    async for _notify in conn.notifies():
                        wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live bus: PostgreSQL listener lost; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
