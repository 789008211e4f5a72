"""Fixed-window rate limits in Django's cache: per token (or person) and per client address.

The cache is shared by every server process (files by default, Redis in
production), so the limits hold across workers and nodes. A window is a
whole period (a minute for ``300/m``); the answer past the limit tells the
client how long until the window turns.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache
from ninja.errors import Throttled


def hit(key: str, rate: tuple[int, int]) -> None:
    """Count one request against ``key``; raise ``Throttled`` past ``rate``."""
    limit, period = rate
    now = time.time()
    window = int(now // period)
    cache_key = f"portal:api-rate:{key}:{period}:{window}"
    # add() creates the counter only if absent; incr() is atomic on Redis and memcached.
    cache.add(cache_key, 0, period + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, period + 1)
        count = 1
    if count > limit:
        raise Throttled(wait=math.ceil((window + 1) * period - now))
