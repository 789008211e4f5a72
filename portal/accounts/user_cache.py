"""The signed-in user of a page, from memory while their row is unchanged.

Every page reads the session's user (``ModelBackend.get_user``): one query,
which cost as much as the rest of a cached dashboard. The row is kept in the
server process's memory, valid while the user's fragment version
(``portal.core.fragments``, in Redis) is the one it was read under: saving or
deleting the user moves that version on, so a changed password, a deactivation
or a new staff flag is read afresh on the next request, on every node. The
version is read before the row, so a row read during a change is stored under
a version nobody asks for again. When this process has loaded the session before, the
version was read in the same round trip as the session (``session_store``). Each
request gets its own instance. While Redis is away every version reads as new, and
every request queries.

A row read from the database is also shared through the cache (Redis), so that
the other server processes, on this node and on others, need not query for a
user they have not seen yet: each process would otherwise read each user once.
The shared copy holds no password hash. It holds the session hash Django checks
the session against instead (an HMAC of the password hash with the secret key),
which every session of the user holds anyway; its key names the secret key, so
a new secret key is never answered with a hash made under the old one. A user
from the shared copy loads its password hash from the database only if
something asks for it (a password change).
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache as shared_cache
from django.utils.crypto import salted_hmac

from portal.accounts.models import SESSION_AUTH_HASH
from portal.accounts.session_store import version_read_ahead
from portal.core.db import read_row
from portal.core.fragments import remember_version, versions

MAX_USERS = 10_000
# The safety net for a change that moved no version (a QuerySet.update of users,
# which the portal never does): a row is used for at most 5 minutes after it was
# read from the database, in memory or from the shared copy. Each row's time is
# drawn between MIN_AGE and MAX_AGE when it is read: users seen together (everyone
# after a restart, or at nine in the morning) are then not all read again together.
MAX_AGE = 300.0
MIN_AGE = 0.75 * MAX_AGE
LEFT_OUT = "password"  # the field of the password hash, which the shared copy leaves out

# Per process: pk -> (version, used until (wall clock), field names, values, session
# hash or None when the row holds its password hash).
Entry = tuple[str, float, tuple[str, ...], tuple[Any, ...], str | None]
_rows: OrderedDict[Any, Entry] = OrderedDict()
_lock = threading.Lock()

GetUser = Callable[[ModelBackend, Any], Any]


@cache
def _fields() -> tuple[str, ...]:
    return tuple(field.attname for field in get_user_model()._meta.concrete_fields)


@cache
def _secret_id(secret_key: str) -> str:
    return salted_hmac(
        "portal.accounts.user_cache", "secret key id", secret=secret_key
    ).hexdigest()[:16]


def _shared_key(pk: Any, version: str) -> str:
    # "userrow2": the entry's time is when it stops being used ("userrow" held when it was read).
    return f"userrow2:{pk}:{version}:{_secret_id(settings.SECRET_KEY)}"


def _used_until(read_at: float) -> float:
    return read_at + random.uniform(MIN_AGE, MAX_AGE)  # noqa: S311 - not security


def _instance(entry: Entry) -> Any:
    _version, _until, names, values, session_hash = entry
    user = get_user_model().from_db("default", names, values)
    if session_hash is not None:
        user.__dict__[SESSION_AUTH_HASH] = session_hash
    return user


def _fresh(entry: Any, version: str) -> bool:
    return (
        isinstance(entry, tuple)
        and len(entry) == 5
        and entry[0] == version
        and time.time() < entry[1]
    )


def _keep(pk: Any, entry: Entry) -> None:
    with _lock:
        _rows[pk] = entry
        _rows.move_to_end(pk)
        while len(_rows) > MAX_USERS:
            _rows.popitem(last=False)


@cache
def _shared_fields() -> tuple[str, ...]:
    return tuple(name for name in _fields() if name != LEFT_OUT)


def _share(pk: Any, version: str, user: Any, until: float) -> None:
    names = _shared_fields()
    values = tuple(getattr(user, name) for name in names)
    entry: Entry = (version, until, names, values, user.get_session_auth_hash())
    shared_cache.set(_shared_key(pk, version), entry, int(MAX_AGE))


def cached(get_user: GetUser) -> GetUser:
    """``ModelBackend.get_user``, answered from memory while the user's version holds."""

    def get_user_cached(backend: ModelBackend, user_id: Any) -> Any:
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 - a malformed id is the original's to refuse
            return get_user(backend, user_id)
        # Read with the session when this process knew the session's user (session_store).
        version = version_read_ahead(pk) or versions(users=[pk])
        with _lock:
            entry = _rows.get(pk)
            if entry is not None:
                _rows.move_to_end(pk)
        if entry is None or not _fresh(entry, version):
            shared = shared_cache.get(_shared_key(pk, version))
            # A row shared by a process of another release, whose user model had other
            # fields, is not this model's row: read the user afresh.
            entry = shared if _fresh(shared, version) and shared[2] == _shared_fields() else None
            if entry is not None:
                _keep(pk, entry)
        if entry is not None:
            user = _instance(entry)
            remember_version(user, version)
            return user if backend.user_can_authenticate(user) else None
        until = _used_until(time.time())
        # ModelBackend.get_user's query as one prepared statement (portal.core.db).
        user = read_row(model, pk)
        if user is not None and not backend.user_can_authenticate(user):
            user = None
        if user is not None:
            remember_version(user, version)
            _keep(pk, (version, until, _fields(), tuple(getattr(user, n) for n in _fields()), None))
            _share(pk, version, user, until)
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
