"""Who opens a live stream: a session cookie or a bearer token, checked as a page checks it.

Connects come in bursts (a server restart, a network blip, a deploy: thousands of
browsers reconnect within seconds), and one by one each cost a thread hop and
four round trips (session, user, memberships, connection check). So they are
checked in batches: one cache read for all the sessions (one query for those not
cached), one query for their users and one for their memberships, however many
connects wait. The checks are a page's: session present and not expired, user
active, password unchanged (session hash), second factor set up where one is
required; a refusal is ``None``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.contrib import auth
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .audience import Viewer

if TYPE_CHECKING:
    from django.contrib.auth.backends import ModelBackend

    from portal.accounts.models import User
    from portal.customers.models import Membership


class Credentials(NamedTuple):
    """What a stream request authenticates with: a bearer token, else the session cookie."""

    cookie: str = ""
    authorization: str | None = None
    user_agent: str = ""
    client_address: str | None = None


class _Claim(NamedTuple):
    """What a live session says about its user, before the user is read."""

    user_id: Any
    backend: ModelBackend
    session_hash: str


def authenticate(credentials: Credentials) -> Viewer | None:
    """The viewer behind an ``Authorization: Bearer`` token or else the session cookie."""
    return authenticate_many([credentials])[0]


def authenticate_many(batch: Sequence[Credentials]) -> list[Viewer | None]:
    """:func:`authenticate` for many connects, in a number of queries that does not grow
    with the batch (tokens, which scripts use, are still checked one by one)."""
    viewers: list[Viewer | None] = [None] * len(batch)
    keys: dict[int, str] = {}
    for index, credentials in enumerate(batch):
        if credentials.authorization is not None:
            viewers[index] = _authenticate_token(credentials)
            continue
        key = parse_cookie(credentials.cookie).get(settings.SESSION_COOKIE_NAME)
        if key:
            keys[index] = key
    if not keys:
        return viewers
    sessions = _load_sessions(set(keys.values()))
    now = int(time.time())
    claims = {index: _claim(sessions.get(key), now) for index, key in keys.items()}
    users = _users(claims.values())
    memberships = _memberships_of(users)
    for index, claim in claims.items():
        user = users.get(claim.user_id) if claim is not None else None
        if claim is None or user is None:
            continue
        # ModelBackend.get_user's check (is_active), then get_user's session hash check.
        if not user.is_active or not claim.backend.user_can_authenticate(user):
            continue
        if _hash_verified(claim, user):
            viewers[index] = _session_viewer(user, memberships[user.pk])
    return viewers


def _load_sessions(keys: set[str]) -> dict[str, dict[str, Any]]:
    """The data of the live sessions among ``keys`` (a missing or expired one is absent)."""
    from django.contrib.sessions.backends import cached_db

    engine = import_module(settings.SESSION_ENGINE)
    stores = {key: engine.SessionStore(key) for key in keys}
    # A malformed key is no session (and must not make the store invent a new one).
    stores = {key: store for key, store in stores.items() if store.session_key is not None}
    found: dict[str, dict[str, Any]] = {}
    if hasattr(engine.SessionStore, "cache_key"):
        # The cache and cached_db engines: every session in one cache round trip.
        key_of = {store.cache_key: key for key, store in stores.items()}
        hits = caches[settings.SESSION_CACHE_ALIAS].get_many(list(key_of))
        found = {key_of[cache_key]: data for cache_key, data in hits.items() if data}
    missing = [key for key in stores if key not in found]
    if missing and issubclass(engine.SessionStore, cached_db.SessionStore):
        # Sessions the cache does not hold (Redis restarted, or never cached): one query.
        # They are not put back in the cache here: the next page view does that.
        model = engine.SessionStore.get_model_class()
        rows = model.objects.filter(session_key__in=missing, expire_date__gt=timezone.now())
        for row in rows:
            found[row.session_key] = stores[row.session_key].decode(row.session_data)
    elif missing:
        for key in missing:  # any other engine: its own load, one by one
            found[key] = stores[key].load()
    return found


def _claim(data: dict[str, Any] | None, now: int) -> _Claim | None:
    """The signed-in user a session names, as ``django.contrib.auth.get_user`` reads it."""
    from portal.accounts.middleware import session_expired

    if not data or session_expired(data, now):
        return None
    try:
        user_id = auth.get_user_model()._meta.pk.to_python(data[auth.SESSION_KEY])
        backend_path = data[auth.BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    backend = _model_backend(backend_path)
    if backend is None:
        return None
    return _Claim(user_id, backend, data.get(auth.HASH_SESSION_KEY) or "")


def _model_backend(path: str) -> ModelBackend | None:
    """A configured backend that loads users as ``ModelBackend`` does, which the batch
    query below replaces; any other is refused here rather than half-checked."""
    if path not in settings.AUTHENTICATION_BACKENDS:
        return None
    return _loaded_model_backend(path)


@cache
def _loaded_model_backend(path: str) -> ModelBackend | None:
    from django.contrib.auth.backends import ModelBackend

    backend = auth.load_backend(path)
    if isinstance(backend, ModelBackend) and type(backend).get_user is ModelBackend.get_user:
        return backend
    return None


def _users(claims: Iterable[_Claim | None]) -> dict[Any, User]:
    """The claimed users, by id: one query."""
    ids = {claim.user_id for claim in claims if claim is not None}
    if not ids:
        return {}
    return {user.pk: user for user in auth.get_user_model()._default_manager.filter(pk__in=ids)}


def _hash_verified(claim: _Claim, user: User) -> bool:
    """The session was made with the user's current password (or a fallback secret)."""
    if not claim.session_hash:
        return False
    if constant_time_compare(claim.session_hash, user.get_session_auth_hash()):
        return True
    return any(
        constant_time_compare(claim.session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


def _memberships_of(users: dict[Any, User]) -> dict[Any, list[Membership]]:
    """Each user's memberships with their customers (``memberships_for_user``): one query."""
    from portal.customers.models import Membership

    found: dict[Any, list[Membership]] = defaultdict(list)
    if users:
        rows = Membership.objects.filter(user_id__in=list(users)).select_related("customer")
        for membership in rows:
            found[membership.user_id].append(membership)
    return found


def _session_viewer(user: User, memberships: list[Membership]) -> Viewer | None:
    """The viewer, unless this user must set up a second factor first (as on a page)."""
    from allauth.mfa.utils import is_mfa_enabled

    from portal.accounts.middleware import mfa_required_for

    request = HttpRequest()
    request.user = user
    # What ``user_memberships`` caches per request: the rule reads the batch's rows.
    request._portal_memberships = memberships  # type: ignore[attr-defined]
    if mfa_required_for(request) and not user.is_staff and not is_mfa_enabled(user):
        return None
    return Viewer.from_memberships(user, memberships)


def _authenticate_token(credentials: Credentials) -> Viewer | None:
    """A personal access token acts as its membership: that customer's events and the
    owner's personal ones, never staff events. Its use is recorded as for the API."""
    from allauth.mfa.utils import is_mfa_enabled

    from portal.accounts.middleware import mfa_required_for
    from portal.tokens.selectors import TokenRejected, token_authenticate
    from portal.tokens.services import token_refused, token_used

    scheme, _, secret = (credentials.authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    request = HttpRequest()
    request.META.update(
        REMOTE_ADDR=credentials.client_address or "", HTTP_USER_AGENT=credentials.user_agent
    )
    try:
        token, membership = token_authenticate(secret=secret.strip())
    except TokenRejected as rejected:
        if rejected.token is not None:
            token_refused(token=rejected.token, reason=rejected.reason, request=request)
        return None
    request.user = token.user
    token_used(token=token, request=request)
    if mfa_required_for(request) and not is_mfa_enabled(token.user):
        return None
    viewer = Viewer.from_memberships(token.user, [membership])
    return replace(viewer, is_staff=False)  # a token never sees staff events
