"""Django's Redis cache, made to keep the portal up while Redis is away.

Django's own backend raises on every call when Redis is stopped or hangs, and
the cache is under every page: the session (``cached_db``), the rate limits of
the sign-in and the API. This one answers instead:

- sessions (``cached_db`` keys) miss and their writes are skipped: the database
  holds them anyway, so everybody stays signed in;
- everything else (rate-limit counters) goes to a cache in the process's
  memory, so limits still hold per process;
- each key written or deleted meanwhile is remembered and deleted from Redis
  first thing when it answers again, so a session ended during the outage
  cannot come back from an older copy there.

While Redis is away it is asked again at most once a second (each failed try
costs up to the socket timeout, which settings keep short). An outage and its
end are logged once each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from django.contrib.sessions.backends.cached_db import KEY_PREFIX as SESSION_PREFIX
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_SECONDS = 1.0
# Keys to delete when Redis is back; past this many, the whole cache is cleared instead.
MAX_REMEMBERED = 10_000
REMOTE_ONLY_PREFIXES = (SESSION_PREFIX, "fragment:", "fragver:", "userrow:")


# Django makes a cache object per thread and per request context (every page
# served through a2wsgi is a new context): the objects of one configuration share
# one state, so a process keeps one Redis connection pool and one view of an outage.
_shared_states: dict[str, dict[str, Any]] = {}
_shared_lock = threading.Lock()


class _ReusingClient(RedisCacheClient):
    """Django's client builds a ``redis.Redis`` object for every call. Here each thread
    keeps one of its own, holding one connection: no pool checkout (with its check
    that the connection has nothing left to read) on every call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._threads = threading.local()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # Django's client class has no type hints
        index = django_client._get_connection_pool_index(write)
        clients: dict[int, Any] | None = getattr(self._threads, "clients", None)
        if clients is None:
            clients = self._threads.clients = {}
        client = clients.get(index)
        if client is None:
            pools = django_client._pools
            with _shared_lock:
                if index not in pools:
                    pools[index] = django_client._pool_class.from_url(
                        django_client._servers[index], **django_client._pool_options
                    )
            # Connects now: while Redis is away this raises, and the next call tries again.
            client = django_client._client(
                connection_pool=pools[index], single_connection_client=True
            )
            clients[index] = client
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        key = repr((server, sorted(params.items(), key=lambda item: item[0])))
        with _shared_lock:
            shared = _shared_states.get(key)
            if shared is None:
                self._setup(server, params)
                _shared_states[key] = self.__dict__
            else:
                self.__dict__ = shared

    def _setup(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient
        self._local = LocMemCache(
            f"portal-redis-fallback-{id(self)}", {"OPTIONS": {"MAX_ENTRIES": MAX_REMEMBERED}}
        )
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_try = 0.0
        self._stale: set[tuple[str, int | None]] = set()
        self._stale_overflow = False

    def validate_key(self, key: Any) -> None:
        """Nothing to check: Redis takes any key. Django's base class warns about keys
        memcached would refuse, a pattern search on every key of every page."""

    # --- the state of the connection ---------------------------------------------

    def _available(self) -> bool:
        """Whether to ask Redis now; after an outage, first forget what went stale."""
        with self._lock:
            if self._down_since is None:
                return True
            now = time.monotonic()
            if now - self._last_try < RETRY_SECONDS:
                return False
            self._last_try = now
            stale, overflow = list(self._stale), self._stale_overflow
        try:
            if overflow:
                super().clear()
            else:
                for key, version in stale:
                    super().delete(key, version=version)
                super().has_key("portal:cache:probe")
        except redis.RedisError:
            return False
        with self._lock:
            if self._down_since is not None:
                logger.warning(
                    "cache: Redis answers again; %d stale keys removed",
                    len(stale),
                    extra={"down_seconds": round(time.monotonic() - self._down_since, 1)},
                )
            self._down_since = None
            self._stale.difference_update(stale)
            self._stale_overflow = False
        self._local.clear()
        return True

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = self._last_try = time.monotonic()
                logger.warning(
                    "cache: Redis is not answering; sessions come from the database and "
                    "rate limits are counted per process until it is back",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )

    def _remember(self, keys: Iterable[Any], version: int | None) -> None:
        with self._lock:
            for key in keys:
                if len(self._stale) >= MAX_REMEMBERED:
                    self._stale_overflow = True
                    return
                self._stale.add((str(key), version))

    def _call(
        self,
        keys: Iterable[Any],
        version: int | None,
        remote: Callable[[], T],
        local: Callable[[], T],
        *,
        writes: bool,
    ) -> T:
        keys = list(keys)
        if self._available():
            try:
                return remote()
            except redis.RedisError as exc:
                self._failed(exc)
        if writes:
            self._remember(keys, version)
        return local()

    # --- the cache API -----------------------------------------------------------

    @staticmethod
    def _session(key: Any) -> bool:
        """Keys that are never kept in the process's memory: sessions, fragments, their
        versions and shared user rows (a change seen by one process only would leave the
        others' copies stale)."""
        return str(key).startswith(REMOTE_ONLY_PREFIXES)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).add(key, value, timeout, version),
            lambda: False if self._session(key) else self._local.add(key, value, timeout, version),
            writes=True,
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).get(key, default, version),
            lambda: default if self._session(key) else self._local.get(key, default, version),
            writes=False,
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        def local() -> None:
            if not self._session(key):
                self._local.set(key, value, timeout, version)

        self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).set(key, value, timeout, version),
            local,
            writes=True,
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).touch(key, timeout, version),
            lambda: False if self._session(key) else self._local.touch(key, timeout, version),
            writes=True,
        )

    def delete(self, key: Any, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).delete(key, version),
            lambda: self._local.delete(key, version),
            writes=True,
        )

    def get_many(self, keys: Any, version: Any = None) -> Any:
        keys = list(keys)
        return self._call(
            keys,
            version,
            lambda: super(ResilientRedisCache, self).get_many(keys, version),
            lambda: self._local.get_many([k for k in keys if not self._session(k)], version),
            writes=False,
        )

    def has_key(self, key: Any, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).has_key(key, version),
            lambda: False if self._session(key) else self._local.has_key(key, version),
            writes=False,
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        return self._call(
            [key],
            version,
            lambda: super(ResilientRedisCache, self).incr(key, delta, version),
            lambda: self._local.incr(key, delta, version),
            writes=True,
        )

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        data = dict(data)

        def local() -> list[Any]:
            kept = {k: v for k, v in data.items() if not self._session(k)}
            self._local.set_many(kept, timeout, version)
            return []

        return self._call(
            data,
            version,
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            local,
            writes=True,
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        keys = list(keys)
        self._call(
            keys,
            version,
            lambda: super(ResilientRedisCache, self).delete_many(keys, version),
            lambda: self._local.delete_many(keys, version),
            writes=True,
        )

    def clear(self) -> Any:
        def local() -> bool:
            with self._lock:
                self._stale_overflow = True  # clear Redis too, once it is back
            self._local.clear()
            return True

        return self._call(
            [], None, lambda: super(ResilientRedisCache, self).clear(), local, writes=False
        )
