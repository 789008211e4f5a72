"""The signed-in user of a page, from the process's memory while their row is unchanged.

Every page reads the session's user (``ModelBackend.get_user``): one query,
which cost as much as the rest of a cached dashboard. The row is kept in the
server process's memory, valid while the user's fragment version
(``portal.core.fragments``, in Redis) is the one it was read under: saving or
deleting the user moves that version on, so a changed password, a deactivation
or a new staff flag is read afresh on the next request, on every node. The
version is read before the row, so a row read during a change is stored under
a version nobody asks for again. Each request gets its own instance. While
Redis is away every version reads as new, and every request queries.

Only the row is kept (no password hash leaves the process); the session hash is
checked by Django's ``get_user`` as before.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from portal.core.fragments import remember_version, versions

MAX_USERS = 10_000
# The safety net for a change that moved no version (a QuerySet.update of users,
# which the portal never does): a user seen every half minute on each of several
# server processes stays in memory, and is read afresh every 5 minutes regardless.
MAX_AGE = 300.0

_rows: OrderedDict[Any, tuple[str, float, tuple[Any, ...]]] = OrderedDict()
_lock = threading.Lock()

GetUser = Callable[[ModelBackend, Any], Any]


@cache
def _fields() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


def cached(get_user: GetUser) -> GetUser:
    """``ModelBackend.get_user``, answered from memory while the user's version holds."""

    def get_user_cached(backend: ModelBackend, user_id: Any) -> Any:
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 - a malformed id is the original's to refuse
            return get_user(backend, user_id)
        version = versions(users=[pk])
        with _lock:
            entry = _rows.get(pk)
            if entry is not None:
                _rows.move_to_end(pk)
        if entry is not None and entry[0] == version and time.monotonic() - entry[1] < MAX_AGE:
            user = model.from_db("default", _fields(), entry[2])
            remember_version(user, version)
            return user if backend.user_can_authenticate(user) else None
        user = get_user(backend, user_id)
        if user is not None:
            remember_version(user, version)
            values = tuple(getattr(user, name) for name in _fields())
            with _lock:
                _rows[pk] = (version, time.monotonic(), values)
                _rows.move_to_end(pk)
                while len(_rows) > MAX_USERS:
                    _rows.popitem(last=False)
        return user

    return get_user_cached


def forget_all() -> None:
    """Empty this process's memory of users (tests)."""
    with _lock:
        _rows.clear()


def install() -> None:
    # allauth's backend inherits this method, so both configured backends use it.
    if not getattr(ModelBackend.get_user, "portal_cached", False):
        get_user_cached = cached(ModelBackend.get_user)
        get_user_cached.portal_cached = True  # type: ignore[attr-defined]
        ModelBackend.get_user = get_user_cached  # type: ignore[method-assign,assignment]
