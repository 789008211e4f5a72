from __future__ import annotations

import asyncio
import logging
from functools import cached_property

import redis
import redis.asyncio
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.live.bus import Deliver, EventBus, Wake

logger = logging.getLogger(__name__)
CHANNEL = "portal:live"


class RedisBus(EventBus):
    """Redis pub/sub: one subscription per process."""

    def __init__(self) -> None:
        super().__init__()
        if not settings.REDIS_URL:
            raise ImproperlyConfigured("PORTAL_LIVE_BUS=redis needs REDIS_URL.")
        self.url = settings.REDIS_URL

    @cached_property
    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def publish_remote(self, event_id: int, message: bytes | None = None) -> None:
        try:
            self._client.publish(CHANNEL, message or str(event_id))
        except redis.RedisError:
            # The event is committed; the others find it on their next look.
            logger.warning("live bus: Redis publish failed", exc_info=True)

    async def listen(self, wake: Wake, deliver: Deliver | None = None) -> None:
        delay = 0.5
        lost = False
        while True:
            client = redis.asyncio.Redis.from_url(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    if lost:
                        logger.warning("live bus: subscribed to Redis again")
                    delay, lost = 0.5, False
                    # Whatever was published while we were away is in the event table.
                    wake()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        if deliver is None or not deliver(message["data"]):
                            wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:  # once per outage, not once per retry
                    logger.warning(
                        "live bus: Redis subscription lost; retrying",
                        extra={"error": f"{type(exc).__name__}: {exc}"},
                    )
                lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                await client.aclose()
