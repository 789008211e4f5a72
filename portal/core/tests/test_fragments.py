"""Cached pages and fragments: served again until their data changes, never to anyone else."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from csp.middleware import CSPMiddleware
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.session import SessionStorage
from django.core.cache import cache, caches
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext

from portal.accounts.models import User
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.customers.services import membership_change_role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.services import live_event_emit
from portal.servicedesk.tests.factories import make_request

from .. import fragments

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _dashboard(client: Client) -> str:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return str(response.content.decode())


def _signed_in_admin() -> tuple[Customer, User, Client]:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    client = Client()
    client.force_login(admin)
    return customer, admin, client


def _queries(view: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        view()
    return len(captured)


def test_the_dashboard_is_served_from_the_cache_until_the_customer_data_changes(
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer, admin, client = _signed_in_admin()
    pages: list[str] = []
    fresh = _queries(lambda: pages.append(_dashboard(client)))
    assert "No requests yet." in pages[0]
    # Served again: no query (none of the cards', and the user from memory).
    assert _queries(lambda: pages.append(_dashboard(client))) == 0 < fresh
    assert TOKEN.sub("", pages[0]) == TOKEN.sub("", pages[1])

    with django_capture_on_commit_callbacks(execute=True):
        make_request(customer=customer, submitted_by=admin)
    assert "1 open request" in _dashboard(client)


def test_a_cached_page_is_never_served_to_another_user_or_customer() -> None:
    acme, globex = make_customer("Acme Ltd"), make_customer("Globex plc")
    alice = make_member(acme, Role.ADMIN, first_name="Alice")
    bob = make_member(globex, Role.ADMIN, first_name="Bob")
    make_request(customer=acme, submitted_by=alice)
    as_alice, as_bob = Client(), Client()
    as_alice.force_login(alice)
    as_bob.force_login(bob)
    for _ in range(2):
        alice_page, bob_page = _dashboard(as_alice), _dashboard(as_bob)
        assert "Acme Ltd" in alice_page and "1 open request" in alice_page
        assert "Globex plc" in bob_page and "No requests yet." in bob_page
        assert "Acme Ltd" not in bob_page and "Alice" not in bob_page


def test_a_changed_role_changes_the_cached_page() -> None:
    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    other_admin = make_member(customer, Role.ADMIN)
    client = Client()
    client.force_login(admin)
    assert "Manage members" in _dashboard(client)
    membership = Membership.objects.get(user=admin, customer=customer)
    membership_change_role(membership=membership, role=Role.MEMBER, actor=other_admin)
    assert "Manage members" not in _dashboard(client)


def test_a_renamed_customer_changes_its_members_cached_pages() -> None:
    customer = make_customer("Acme Ltd")
    admin = make_member(customer, Role.ADMIN)
    client = Client()
    client.force_login(admin)
    assert "Acme Ltd" in _dashboard(client)
    customer.name = "Acme Holdings"
    customer.save()
    page = _dashboard(client)
    assert "Acme Holdings" in page and "Acme Ltd" not in page


def test_each_answer_has_a_fresh_csrf_token_that_works() -> None:
    customer = make_customer()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member(customer, Role.ADMIN))
    first, second = _dashboard(client), _dashboard(client)
    # One token per answer (as Django renders it), masked afresh for each answer.
    assert len(set(TOKEN.findall(first))) == len(set(TOKEN.findall(second))) == 1
    assert TOKEN.findall(first)[0] != TOKEN.findall(second)[0]
    assert fragments.CSRF_MARK not in second
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": TOKEN.findall(second)[0]})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 302  # signed out


def test_the_live_stream_starts_from_the_newest_event_of_the_answer(
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer, admin, client = _signed_in_admin()
    _dashboard(client)
    other = make_customer("Elsewhere Ltd")  # an event the cached page knows nothing of
    with django_capture_on_commit_callbacks(execute=True):
        event = live_event_emit(kind="test", topic="test:1", customer=other)
    page = _dashboard(client)
    assert f'data-live-since="{event.pk}"' in page
    assert fragments.LIVE_SINCE_MARK not in page


def test_a_page_with_a_message_waiting_is_rendered_afresh() -> None:
    customer = make_customer()
    client = Client()
    client.force_login(make_member(customer, Role.ADMIN))
    _dashboard(client)  # cached now
    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]
    storage = SessionStorage(request)
    session = client.session
    session[storage.session_key] = storage.serialize_messages([Message(20, "Request sent.")])
    session.save()
    assert "Request sent." in _dashboard(client)
    assert "Request sent." not in _dashboard(client)  # shown once, then gone


def test_versions_move_on_after_commit_too(django_capture_on_commit_callbacks: Any) -> None:
    before = fragments.versions(customers=[1], users=[2])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fragments.versions_bump(customers=[1])
    during = fragments.versions(customers=[1], users=[2])
    assert during != before
    for callback in callbacks:
        callback()
    after = fragments.versions(customers=[1], users=[2])
    assert after not in (before, during)
    assert after.split(".")[1] == before.split(".")[1]  # the user's did not move


def test_versions_are_read_once_per_request() -> None:
    request = RequestFactory().get("/")
    first = fragments.versions(request, users=[5])
    cache.set("fragver:u:5", "moved")
    assert fragments.versions(request, users=[5]) == first
    assert fragments.versions(users=[5]) == "moved"


def test_a_signed_in_page_reads_the_users_version_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _customer, admin, client = _signed_in_admin()
    _dashboard(client)
    wanted: list[str] = []
    backend = caches["default"]
    get_many = backend.get_many

    def counting_get_many(keys: list[str], *args: Any, **kwargs: Any) -> Any:
        wanted.extend(keys)  # versions are read with get_many
        return get_many(keys, *args, **kwargs)

    monkeypatch.setattr(backend, "get_many", counting_get_many)
    _dashboard(client)
    # Read by the user cache, then taken from the request's user by the page.
    assert wanted.count(f"fragver:u:{admin.pk}") == 1


def test_cache_objects_of_one_configuration_share_one_state() -> None:
    from portal.core.cache import ResilientRedisCache

    # Django makes one cache object per thread and request context.
    first: Any = ResilientRedisCache("redis://127.0.0.1:1/0", {})
    second: Any = ResilientRedisCache("redis://127.0.0.1:1/0", {})
    other: Any = ResilientRedisCache("redis://127.0.0.1:1/1", {})
    assert first._cache is second._cache is not other._cache


def test_each_thread_keeps_one_redis_client_of_its_own() -> None:
    from portal.core.cache import ResilientRedisCache
    from tests.services import redis_server

    with redis_server() as url:
        cache_a: Any = ResilientRedisCache(url, {})
        cache_b: Any = ResilientRedisCache(url, {})
        mine = cache_a._cache.get_client()
        assert cache_b._cache.get_client() is mine
        theirs: list[Any] = []
        thread = threading.Thread(target=lambda: theirs.append(cache_b._cache.get_client()))
        thread.start()
        thread.join()
        assert theirs[0] is not mine
        assert theirs[0].connection_pool is mine.connection_pool  # one pool per process
        cache_a.set("k", 1)
        assert cache_b.get("k") == 1


def test_without_redis_fragments_are_not_kept_in_the_process() -> None:
    from portal.core.cache import ResilientRedisCache

    # Nothing listens on port 1: every call fails at once and falls back.
    backend = ResilientRedisCache(
        "redis://127.0.0.1:1/2", {"OPTIONS": {"socket_connect_timeout": 0.5}}
    )
    backend.set("fragment:page", "<html>")
    backend.set("fragver:u:1", "abc")
    backend.set("counter", 1)
    # Another process would not see a change moving a version: never serve a local copy.
    assert backend.get("fragment:page") is None
    assert backend.get("fragver:u:1") is None
    assert backend.get("counter") == 1  # rate-limit counters still count, per process


def test_a_page_that_uses_the_csp_nonce_is_not_cached() -> None:
    customer = make_customer()
    user = make_member(customer, Role.ADMIN)
    built: list[str] = []

    def view() -> None:
        request = RequestFactory().get("/dashboard/")
        request.user = user
        request.session = Client().session
        request._messages = SessionStorage(request)  # type: ignore[attr-defined]
        CSPMiddleware(lambda r: HttpResponse()).process_request(request)

        def context() -> dict[str, Any]:
            built.append(str(request.csp_nonce))  # type: ignore[attr-defined]
            return {"cards": []}

        fragments.cached_page(request, "core/dashboard.html", context)

    view()
    view()
    assert len(built) == 2 and built[0] != built[1]


def test_recording_a_sessions_activity_keeps_the_cached_page() -> None:
    from allauth.usersessions.models import UserSession

    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    before = fragments.versions(customers=[customer.pk], users=[admin.pk])
    UserSession.objects.create(user=admin, ip="127.0.0.1", session_key="k" * 32)
    assert fragments.versions(customers=[customer.pk], users=[admin.pk]) == before


def test_a_change_of_the_customers_data_renders_the_cards_again_not_the_page(
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer, admin, client = _signed_in_admin()
    _dashboard(client)
    rendered: list[str] = []

    def seen(sender: Any, template: Any, **kwargs: Any) -> None:
        rendered.append(template.name)

    with django_capture_on_commit_callbacks(execute=True):
        make_request(customer=customer, submitted_by=admin)
    template_rendered.connect(seen)
    try:
        page = _dashboard(client)
    finally:
        template_rendered.disconnect(seen)
    assert "1 open request" in page and "portal-part-" not in page
    # The page around the cards came from the cache.
    assert "core/_dashboard_cards.html" in rendered and "core/dashboard.html" not in rendered
    # A live event alone changes nothing a page shows: the cards stay cached too.
    with django_capture_on_commit_callbacks(execute=True):
        live_event_emit(kind="test", topic="t", customer=customer)
    assert _queries(lambda: _dashboard(client)) == 0


def test_members_with_the_same_role_share_the_cards_and_no_one_else_does() -> None:
    customer, admin, as_admin = _signed_in_admin()
    make_request(customer=customer, submitted_by=admin)
    colleague, member = make_member(customer, Role.ADMIN), make_member(customer, Role.MEMBER)
    as_colleague, as_member = Client(), Client()
    as_colleague.force_login(colleague)
    as_member.force_login(member)
    _dashboard(as_admin)
    with CaptureQueriesContext(connection) as captured:
        page = _dashboard(as_colleague)
    # Only the colleague's own session, user and memberships: no query of a card.
    assert not any("servicedesk_servicerequest" in q["sql"] for q in captured.captured_queries)
    assert "1 open request" in page and colleague.email in page and admin.email not in page
    assert "Manage members" in page and "Manage members" not in _dashboard(as_member)


def test_a_local_fragment_is_served_from_memory_while_its_version_holds() -> None:
    customer, admin, client = _signed_in_admin()
    _dashboard(client)
    key = fragments.fragment_key(f"memberships:{admin.pk}:{fragments.versions(users=[admin.pk])}")
    assert cache.get(key) is not None
    cache.delete(key)  # only this process's copy is left
    assert _queries(lambda: _dashboard(client)) == 0

    # A new membership moves the user's version: the copy in memory is not used.
    Membership.objects.create(user=admin, customer=make_customer("Second Ltd"), role=Role.MEMBER)
    assert "Second Ltd" in _dashboard(client)


def test_each_read_of_a_local_fragment_gets_objects_of_its_own() -> None:
    first = fragments.cached_fragment("local-test:1", lambda: ["a"], local=True)
    second = fragments.cached_fragment("local-test:1", lambda: ["never"], local=True)
    assert first == second == ["a"] and first is not second


def test_a_cached_dashboard_reads_redis_in_two_round_trips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis
    from django.test import override_settings

    from tests.services import redis_server

    with (
        redis_server() as url,
        override_settings(
            CACHES={
                "default": {"BACKEND": "portal.core.cache.ResilientRedisCache", "LOCATION": url}
            }
        ),
    ):
        customer, admin, client = _signed_in_admin()
        make_request(customer=customer, submitted_by=admin)
        _dashboard(client)
        _dashboard(client)
        session = f"django.contrib.sessions.cached_db{client.session.session_key}"
        commands: list[list[str]] = []
        execute: Any = redis.Redis.execute_command

        def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            # The command, and what each of its keys names (a key is ":1:<name>:...").
            commands.append([str(args[0]), *(str(key).split(":")[2] for key in args[1:])])
            return execute(self, *args, **kwargs)

        monkeypatch.setattr(redis.Redis, "execute_command", counting)
        page = _dashboard(client)
    # The session with its user's version (portal.accounts.session_store); the page with
    # the newest event, the customer's version and the cards.
    assert commands == [
        ["MGET", session, "fragver"],
        ["MGET", "fragment", "live", "fragver", "fragment"],
    ]
    assert "1 open request" in page


def _noting(computed: list[str]) -> Callable[[str], Callable[[], str]]:
    """Compute functions that return their text and note each call in ``computed``."""

    def compute(text: str) -> Callable[[], str]:
        def render() -> str:
            computed.append(text)
            return text

        return render

    return compute


def test_a_latest_fragment_is_used_only_at_its_version() -> None:
    computed: list[str] = []
    compute = _noting(computed)
    request = RequestFactory().get("/")
    assert fragments.latest_fragment(request, "latest-test", "v1", compute("one")) == "one"
    assert fragments.latest_fragment(request, "latest-test", "v1", compute("again")) == "one"
    assert fragments.latest_fragment(request, "latest-test", "v2", compute("two")) == "two"
    assert fragments.latest_fragment(request, "latest-test", "v1", compute("old")) == "old"
    assert computed == ["one", "two", "old"]
    # Something else under the key (a damaged or older entry) is computed afresh.
    cache.set(fragments.fragment_key("latest-test"), "not a pair")
    assert fragments.latest_fragment(request, "latest-test", "v1", compute("fresh")) == "fresh"


def test_a_prefetched_fragment_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    request = RequestFactory().get("/")
    request.__dict__[fragments.PREFETCHED] = {fragments.fragment_key("prefetched-test"): None}
    stored: dict[str, Any] = {}

    class NoReads:
        def get(self, *args: Any, **kwargs: Any) -> Any:
            pytest.fail("read again")

        def set(self, key: str, value: Any, timeout: int) -> None:
            stored[key] = value

    monkeypatch.setattr(fragments, "cache", NoReads())
    assert fragments.latest_fragment(request, "prefetched-test", "v1", lambda: "new") == "new"
    assert stored == {fragments.fragment_key("prefetched-test"): ("v1", "new")}


def test_the_release_digest_follows_code_templates_translations_and_static_names(
    tmp_path: Path,
) -> None:
    root = tmp_path / "portal"
    (root / "app" / "templates").mkdir(parents=True)
    (root / "app" / "tests").mkdir()
    template = root / "app" / "templates" / "page.html"
    template.write_text("<p>{{ name }}</p>")
    (root / "app" / "views.py").write_text("x = 1\n")
    manifest = tmp_path / "staticfiles.json"
    manifest.write_text('{"paths": {"app.css": "app.1a2b.css"}}')
    first = fragments.release_digest(root, manifest)
    assert fragments.release_digest(root, manifest) == first
    (root / "app" / "tests" / "test_views.py").write_text("def test(): pass\n")
    (root / "app" / "notes.md").write_text("not part of a page")
    assert fragments.release_digest(root, manifest) == first
    template.write_text("<p>{{ name|upper }}</p>")
    second = fragments.release_digest(root, manifest)
    assert second != first
    manifest.write_text('{"paths": {"app.css": "app.9f8e.css"}}')
    third = fragments.release_digest(root, manifest)
    assert third not in (first, second)
    # Another node's manifest of the same files, written in another order.
    manifest.write_text('{"version": "1.1", "paths": {"b.js": "b.2.js", "app.css": "app.9f.css"}}')
    fourth = fragments.release_digest(root, manifest)
    manifest.write_text('{"paths": {"app.css": "app.9f.css", "b.js": "b.2.js"}, "version": "1.1"}')
    assert fragments.release_digest(root, manifest) == fourth != third
    manifest.write_text("not json")
    assert fragments.release_digest(root, manifest) not in (first, second, third, fourth)
    assert fragments.release_digest(root, None) != fragments.release_digest(root, manifest)


def test_kept_fragments_are_keyed_by_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[str] = []
    make = _noting(computed)
    assert fragments.cached_fragment("release-test", make("a")) == "a"
    assert fragments.cached_fragment("release-test", make("b")) == "a"
    monkeypatch.setattr(fragments, "release", lambda: "next-release")
    assert fragments.cached_fragment("release-test", make("c")) == "c"
    assert computed == ["a", "c"]
