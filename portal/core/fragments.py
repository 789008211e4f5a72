"""Cached page fragments, keyed by versions of the data they show.

Each customer and each user has a version: a random token in the cache. A
fragment's key holds the versions of the customers and users it shows, so a
change moves the key on and the old entry is never asked for again (it
expires). Versions move when a row of a customer or a user is saved or
deleted (the signal receivers in ``CoreConfig.ready``) and again after the
commit: a page computed from the old rows can only be stored under a key
nobody asks for any more. Writes that bypass signals (``QuerySet.update``) call ``versions_bump``
themselves. When the cache is away every version reads as new: fragments are
computed every time, never served stale.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle  # nosec B403 - only for copies this process made itself
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language

T = TypeVar("T")

# The models whose deletes change what fragments show (the dashboard cards, the
# header's memberships and unread count); saves of every model are watched.
DELETES_WATCHED = (
    "accounts.User",
    "customers.Customer",
    "customers.Membership",
    "servicedesk.ServiceRequest",
    "billing.Invoice",
    "documents.Document",
    "live.Notification",
    "documents.DocumentVersion",
    "servicedesk.RequestType",
    "documents.Category",
    "content.ContentPage",
)
# Rows no customer or user owns that cached pages show (request types in a list's
# filter, document categories, help pages): one site-wide version covers them.
SITE_WIDE = frozenset(
    {
        "servicedesk.RequestType",
        "servicedesk.FieldDefinition",
        "documents.Category",
        "content.ContentPage",
        "content.ContentIndexState",  # saved at the end of every content sync
    }
)
# Rows that belong to a customer through a parent row, shown on a cached page (a
# document's versions: scan status and size in the library; a request's timeline,
# conversation and files on its page). A change moves the parent's owners on.
OWNED_THROUGH = {
    "documents.DocumentVersion": "document",
    "servicedesk.StatusChange": "service_request",
    "servicedesk.Comment": "service_request",
    "servicedesk.Attachment": "service_request",
}
# Rows of a user or customer that no fragment shows and that are written all the
# time: a session's last-seen time, the audit trail, the live stream's events (what
# changed is saved in its own rows, which move the versions).
SAVES_IGNORED = frozenset({"usersessions.UserSession", "core.AuditEvent", "live.LiveEvent"})
VERSION_TTL = 7 * 24 * 3600
# The safety net for a change no receiver saw: how stale a fragment can be at most.
# Versions do the invalidating; this also bounds how often a page nobody changed is
# rendered again (once per user per half hour) and what Redis holds (a signed-in
# dashboard is about 10 KB: 100 MB for 10,000 users active in the last half hour).
FRAGMENT_TTL = 1800


# What a kept fragment's content depends on besides the data: the files of the release.
RELEASE_FILES = frozenset({".py", ".html", ".txt", ".mo"})


def release_digest(root: Path, manifest: Path | None = None) -> str:
    """A digest of the code, templates and translations under ``root`` (tests left out)
    and of the static files' manifest (the hashed names pages link to)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in RELEASE_FILES and "tests" not in path.parts and path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    if manifest is not None and manifest.is_file():
        # The names, sorted: each node writes its own manifest, in the order it found
        # the files, and the nodes of one release must agree.
        raw = manifest.read_bytes()
        try:
            names = json.loads(raw).get("paths", {})
        except (ValueError, AttributeError):
            names = raw.decode("utf-8", "replace")
        digest.update(json.dumps(names, sort_keys=True).encode())
    return digest.hexdigest()[:12]


@functools.cache
def release() -> str:
    """This release's digest (once per process, about 20 ms). Kept fragments are keyed by
    it, so a new release never serves what the one before kept: a page linking to
    static files that are gone, HTML a fix changed, objects of a changed model."""
    from django.conf import settings

    return release_digest(
        Path(__file__).resolve().parent.parent, Path(settings.STATIC_ROOT) / "staticfiles.json"
    )


def fragment_key(key: str) -> str:
    """Where the fragment ``key`` (which holds the versions it was made at) is kept."""
    return f"fragment:{release()}:{key}"


def _key(kind: str, pk: int | str) -> str:
    return f"fragver:{kind}:{pk}"


def user_version_key(pk: int | str) -> str:
    """Where a user's version is kept (a session's user id is the primary key as text)."""
    return _key("u", pk)


SITE_KEY = _key("s", 0)


def _keys(customers: Iterable[int], users: Iterable[int], site: bool) -> list[str]:
    keys = [_key("c", pk) for pk in customers] + [user_version_key(pk) for pk in users]
    return [*keys, SITE_KEY] if site else keys


def versions(
    request: HttpRequest | None = None,
    *,
    customers: Iterable[int] = (),
    users: Iterable[int] = (),
    site: bool = False,
) -> str:
    """The current versions of these customers and users (and with ``site``, of the
    site-wide rows, see ``SITE_WIDE``), as one key part.

    With ``request``, each version is read once per request.
    """
    keys = _keys(customers, users, site)
    memo: dict[str, Any] = {}
    if request is not None:
        memo = request.__dict__.setdefault("_fragment_versions", {})
        # The session's user was read under its version (portal.accounts.user_cache).
        user = request.__dict__.get("_cached_user")
        known = getattr(user, USER_VERSION, None)
        if user is not None and known is not None:
            memo.setdefault(user_version_key(user.pk), known)
    found = {key: memo[key] for key in keys if key in memo}
    wanted = [key for key in keys if key not in found]
    if wanted:
        found.update(cache.get_many(wanted))
        missing = {key: secrets.token_hex(6) for key in wanted if key not in found}
        if missing:
            cache.set_many(missing, VERSION_TTL)
            found.update(missing)
        memo.update(found)
    return ".".join(str(found[key]) for key in keys)


USER_VERSION = "_portal_fragment_version"


def remember_version(user: models.Model, version: str) -> None:
    """Note on this (per-request) user object the version it was read under, so that the
    request's ``versions`` need not read it again."""
    setattr(user, USER_VERSION, version)


def versions_bump(
    *, customers: Iterable[int] = (), users: Iterable[int] = (), site: bool = False
) -> None:
    """Move these versions on now and again once the current transaction commits.

    The second move is the one that matters: a page computed from the old rows
    during the transaction was stored under the first. The first lets this
    transaction's own later reads (and tests, which never commit) see the change.
    """
    keys = _keys(customers, users, site)
    if not keys:
        return

    def bump() -> None:
        cache.set_many({key: secrets.token_hex(6) for key in keys}, VERSION_TTL)

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump)


# Small fragments read on every page (a user's memberships) are also kept in the
# server process's memory under the same versioned key: the version, read from Redis
# as ever, decides whether the copy holds, and a round trip is saved.
LOCAL_MAX = 20_000
_local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
_local_lock = threading.Lock()


def _local_get(key: str) -> Any:
    with _local_lock:
        entry = _local.get(key)
        if entry is not None:
            _local.move_to_end(key)
    if entry is None or entry[0] < time.monotonic():
        return None
    # Bytes this process pickled itself (below), never anything from outside.
    return pickle.loads(entry[1])  # noqa: S301 # nosec B301


def _local_put(key: str, value: Any) -> None:
    # Pickled, so that every request gets objects of its own.
    entry = (time.monotonic() + FRAGMENT_TTL, pickle.dumps(value))
    with _local_lock:
        _local[key] = entry
        _local.move_to_end(key)
        while len(_local) > LOCAL_MAX:
            _local.popitem(last=False)


def forget_local() -> None:
    """Empty this process's copies of fragments (tests)."""
    with _local_lock:
        _local.clear()


def cached_fragment(
    key: str,
    compute: Callable[[], T],
    *,
    keep: Callable[[], bool] = lambda: True,
    local: bool = False,
) -> T:
    """``compute()``, from the cache when a fragment with this (versioned) key is there;
    a computed value is stored unless ``keep()`` says no. With ``local``, a copy is
    kept in this process's memory too (for small fragments every page reads)."""
    key = fragment_key(key)
    value: Any = _local_get(key) if local else None
    if value is not None:
        return value  # type: ignore[no-any-return]
    value = cache.get(key)
    if value is None:
        value = compute()
        if not keep():
            return value  # type: ignore[no-any-return]
        cache.set(key, value, FRAGMENT_TTL)
    if local:
        _local_put(key, value)
    return value  # type: ignore[no-any-return]


PREFETCHED = "_fragment_prefetched"


def latest_fragment(
    request: HttpRequest, key: str, version: str, compute: Callable[[], str]
) -> str:
    """``compute()``, from the cache when the copy kept under ``key`` was made at
    ``version``; a new copy replaces it.

    The key holds no version, so a page can read the copy together with everything
    else it needs in one round trip (``cached_page``'s ``parts_keys``) before the
    versions are known; the version is checked once they are.
    """
    key = fragment_key(key)
    prefetched: dict[str, Any] = request.__dict__.get(PREFETCHED, {})
    stored = prefetched[key] if key in prefetched else cache.get(key)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version:
        return str(stored[1])
    value = compute()
    cache.set(key, (version, value), FRAGMENT_TTL)
    return value


def owners_of(instance: models.Model) -> tuple[list[int], list[int]]:
    """The customers and users a saved or deleted row belongs to."""
    from django.contrib.auth import get_user_model

    from portal.customers.models import Customer

    parent_field = OWNED_THROUGH.get(instance._meta.label)
    if parent_field is not None:
        try:
            parent = getattr(instance, parent_field)
        except ObjectDoesNotExist:  # deleted together with its parent
            return [], []
        return owners_of(parent)
    customers: list[int] = []
    users: list[int] = []
    if isinstance(instance, Customer):
        customers.append(instance.pk)
        # Its members' cached memberships show its name.
        users.extend(instance.memberships.values_list("user_id", flat=True))
    elif isinstance(instance, get_user_model()):
        users.append(instance.pk)
    customer_id = getattr(instance, "customer_id", None)
    if isinstance(customer_id, int):
        customers.append(customer_id)
    user_id = getattr(instance, "user_id", None)
    if isinstance(user_id, int):
        users.append(user_id)
    return customers, users


def row_changed(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """``post_save`` / ``post_delete`` receiver for every model."""
    label = sender._meta.label
    if kwargs.get("raw") or label in SAVES_IGNORED:
        return  # loading fixtures, or a row no fragment shows
    customers, users = owners_of(instance)
    site = label in SITE_WIDE
    if customers or users or site:
        versions_bump(customers=customers, users=users, site=site)


# Stand-ins rendered into a cached page and replaced in every answer: the CSRF
# token is masked afresh for each response (as Django does, against BREACH) and
# the live stream starts from the newest event at the time of the answer.
CSRF_MARK = "portal-csrf-token-1d5c9a2e"
LIVE_SINCE_MARK = "portal-live-since-4b7e08f3"


def part_mark(name: str) -> str:
    """Where a cached page's part ``name`` goes (see ``cached_page``)."""
    return f"portal-part-{name}-6f0c2b91"


def cached_page(
    request: HttpRequest,
    template_name: str,
    context: Callable[[], dict[str, Any]],
    *,
    customers: Iterable[int] = (),
    site: bool = False,
    parts: Mapping[str, Callable[[], str]] | None = None,
    parts_customers: Iterable[int] = (),
    parts_keys: Iterable[str] = (),
) -> HttpResponse:
    """A page whose HTML is cached until the user's or these customers' data
    changes (then ``context()`` is built and the page rendered again); with ``site``,
    also until a site-wide row changes (``SITE_WIDE``).

    The key holds the user, their active membership and role, the full path, the
    language and the day. Rendered afresh and not kept: a page with a message
    waiting, one that uses the response's CSP nonce, the answer to a POST (a form
    with mistakes), and a search or filter (any query but a page number), so that
    arbitrary queries do not fill the cache.

    ``parts`` are pieces of HTML that change more often than the rest of the page
    (the dashboard's cards, with each change of the customer's data): the page is
    cached with a mark in the context variable of each part's name, and every answer
    puts in what the part's function returns (it caches under its own versions).
    The versions of ``parts_customers``, which the parts will ask for, and the
    fragments under ``parts_keys`` (``latest_fragment``) are read together with the page.
    """
    from portal.live.selectors import LAST_ID_KEY

    parts = parts or {}
    part_marks = {name: part_mark(name) for name in parts}
    page_key = _page_key(request, customers=customers, site=site)
    if page_key is None:
        page = render_to_string(template_name, {**context(), **part_marks}, request)
        return HttpResponse(_fill_parts(page, parts))

    def render_page() -> str:
        marks = {"csrf_token": CSRF_MARK, "live_since": LIVE_SINCE_MARK, **part_marks}
        return render_to_string(template_name, {**context(), **marks}, request)

    # One round trip for the page, the newest live event and the parts' versions.
    memo: dict[str, Any] = request.__dict__.setdefault("_fragment_versions", {})
    ahead = [_key("c", pk) for pk in parts_customers if _key("c", pk) not in memo]
    fragment_keys = [fragment_key(key) for key in parts_keys]
    found = cache.get_many([page_key, LAST_ID_KEY, *ahead, *fragment_keys])
    memo.update({version_key: found[version_key] for version_key in ahead if version_key in found})
    prefetched = request.__dict__.setdefault(PREFETCHED, {})
    prefetched.update({key: found.get(key) for key in fragment_keys})
    html = found.get(page_key)
    if not isinstance(html, str):
        html = render_page()
        # A page that asked for this response's CSP nonce belongs to this response alone.
        if getattr(request, "_csp_nonce", None) is None:
            cache.set(page_key, html, FRAGMENT_TTL)
    return HttpResponse(_fill_parts(_personal(request, html, found.get(LAST_ID_KEY)), parts))


def kept_page(request: HttpRequest, *, customers: Iterable[int]) -> HttpResponse | None:
    """The answer ``cached_page`` would give from a page it keeps for this request under
    these customers' versions (a page without parts), or None: then the view builds it.

    A view whose page is kept can answer without reading anything it would check first:
    the key holds the user, their active membership and role, the path, and the
    versions of the user and the customers, which every change of what the page shows,
    or of who may see it, moves on.
    """
    from portal.live.selectors import LAST_ID_KEY

    page_key = _page_key(request, customers=customers, site=False)
    if page_key is None:
        return None
    found = cache.get_many([page_key, LAST_ID_KEY])
    html = found.get(page_key)
    if not isinstance(html, str):
        return None
    return HttpResponse(_personal(request, html, found.get(LAST_ID_KEY)))


def _page_key(request: HttpRequest, *, customers: Iterable[int], site: bool) -> str | None:
    """Where ``cached_page`` keeps this request's page, or None for a page never kept."""
    from portal.accounts.request import signed_in_user
    from portal.customers.access import active_membership

    if (
        request.method not in ("GET", "HEAD")
        or not _unfiltered(request)
        or len(messages.get_messages(request))
    ):
        return None
    # A visitor who is not signed in sees what every such visitor sees (a help page).
    user = signed_in_user(request) if request.user.is_authenticated else None
    membership = active_membership(request) if user is not None else None
    key = ":".join(
        [
            "page",
            str(user.pk) if user is not None else "visitor",
            f"{membership.pk}-{membership.role}" if membership is not None else "-",
            hashlib.sha256(request.get_full_path().encode()).hexdigest()[:24],
            get_language() or "",
            timezone.localdate().isoformat(),
            versions(
                request,
                customers=customers,
                users=[user.pk] if user is not None else [],
                site=site,
            ),
        ]
    )
    return fragment_key(key)


def _personal(request: HttpRequest, html: str, last_id: Any) -> str:
    """A kept page with this response's CSRF token and the newest live event put in."""
    from portal.live.selectors import live_event_last_id

    return html.replace(CSRF_MARK, get_token(request)).replace(
        LIVE_SINCE_MARK, str(last_id if isinstance(last_id, int) else live_event_last_id())
    )


def _unfiltered(request: HttpRequest) -> bool:
    """Whether the page is asked for as it comes, at most with a page number."""
    return all(name == "page" for name in request.GET)


def _fill_parts(html: str, parts: Mapping[str, Callable[[], str]]) -> str:
    for name, part in parts.items():
        html = html.replace(part_mark(name), part(), 1)
    return html
