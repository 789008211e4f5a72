"""The session engine: Django's ``cached_db`` with a cheaper write of a known session,
and the session's user's version read in the same round trip as the session.

Django writes an existing session's row as a model save inside a transaction: BEGIN,
UPDATE, COMMIT and the model's signals. A signed-in session is written again every few
minutes (its last-seen time, ``SessionLimitsMiddleware``), which made that write a
large share of the pages' work when many sessions came due together. Here it is one
UPDATE statement, atomic on its own (``portal.core.db.update_rows``). Creating a
session, and everything else, is Django's.

Every signed-in page reads its session from the cache, then the version of the
session's user (``portal.accounts.user_cache`` checks its copy of the user against it):
two round trips to Redis, one after the other, because the user is known only once the
session is read. This process remembers which user each session it has loaded belongs
to, so the next load of the session reads that user's version with it, in one round
trip. The memory is a hint only: the version is kept for the user the session names,
and the user's check takes it (``version_read_ahead``) only while the request that
loaded the session reads its user (``portal.accounts.middleware.AuthenticationMiddleware``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import cached_db, db
from django.contrib.sessions.backends.base import UpdateError

from portal.core.db import update_rows
from portal.core.fragments import user_version_key

# Sessions whose user this process remembers, by a digest of their key (the key itself
# is a credential): about 100 bytes each.
MAX_SESSIONS = 20_000
_users: OrderedDict[bytes, str] = OrderedDict()
_lock = threading.Lock()

# The session whose request is reading its user, while it does (AuthenticationMiddleware).
reading_user_of: ContextVar[Any] = ContextVar("portal_session_reading_user", default=None)


def _digest(session_key: str) -> bytes:
    return hashlib.blake2b(session_key.encode(), digest_size=16).digest()


def _user_of(digest: bytes) -> str | None:
    with _lock:
        return _users.get(digest)


def _remember(digest: bytes, user_id: Any) -> None:
    with _lock:
        if isinstance(user_id, str):
            _users[digest] = user_id
            _users.move_to_end(digest)
            while len(_users) > MAX_SESSIONS:
                _users.popitem(last=False)
        else:
            _users.pop(digest, None)


def forget_sessions() -> None:
    """Empty this process's memory of sessions' users (tests)."""
    with _lock:
        _users.clear()


def version_read_ahead(user_pk: Any) -> str | None:
    """The user's version as read with the session of the request now reading its user,
    once; None when there is none (then ``versions`` asks the cache)."""
    ahead: dict[str, Any] | None = getattr(reading_user_of.get(), "versions_ahead", None)
    if not ahead:
        return None
    version = ahead.pop(user_version_key(user_pk), None)
    return None if version is None else str(version)


class _SingleUpdateDBStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        if must_create or self.session_key is None:
            super().save(must_create)
            return
        # What Django's own save writes (the stubs leave out its ``_get_session``).
        obj = self.create_model_instance(self._get_session())  # type: ignore[attr-defined]
        updated = update_rows(
            self.model,
            values={"session_data": obj.session_data, "expire_date": obj.expire_date},
            where={"session_key": obj.session_key},
        )
        if not updated:
            # Ended meanwhile (signed out elsewhere, or purged): as Django's own save,
            # which the session middleware answers with "session interrupted".
            raise UpdateError


class SessionStore(cached_db.SessionStore, _SingleUpdateDBStore):
    """``cached_db`` (the cache in front, written through) over the single-UPDATE write,
    reading the session's user's version with the session."""

    versions_ahead: dict[str, Any] | None = None

    def load(self) -> dict[str, Any]:
        self.versions_ahead = None
        if self.session_key is None:
            return super().load()
        digest = _digest(self.session_key)
        user_id = _user_of(digest)
        data = self._load_with_version_of(user_id) if user_id is not None else None
        if data is None:
            data = super().load()
        _remember(digest, data.get(SESSION_KEY))
        return data

    def _load_with_version_of(self, user_id: str) -> dict[str, Any] | None:
        """The session from the cache with the version of the user it belonged to when
        this process last loaded it; None when the cache does not hold the session."""
        version_key = user_version_key(user_id)
        try:
            # The stubs leave out cached_db's ``_cache`` (the cache of SESSION_CACHE_ALIAS).
            found = self._cache.get_many([self.cache_key, version_key])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - as Django's load: a refused key is no session
            return None
        data = found.get(self.cache_key)
        if not isinstance(data, dict):
            return None  # Django's load reads it from the database and caches it
        if data.get(SESSION_KEY) == user_id and version_key in found:
            self.versions_ahead = {version_key: found[version_key]}
        return data
