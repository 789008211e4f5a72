"""The live stream through the real ASGI server: authorisation, delivery, replay."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Permission, Role
from portal.live.services import access_changed, live_event_emit
from tests.server import PortalServer
from tests.sse import SSEClient

pytestmark = pytest.mark.django_db(transaction=True)


def cookies_for(user: User) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {name: client.cookies[name].value}


def hub_caught_up(timeout: float = 5.0) -> None:
    """Wait until the test server's hub has handed out every event committed so far, so
    that a stream opened next does not receive them (a hub that lags delivers events
    committed just before a stream registered)."""
    from portal.live import hub as hub_module
    from portal.live.models import LiveEvent

    newest = LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    deadline = time.monotonic() + timeout
    while newest is not None and time.monotonic() < deadline:
        hub = hub_module._hub
        if hub is None or hub.idle or hub.cursor >= newest or newest in hub.seen_above_cursor:
            return
        time.sleep(0.02)


def emit(customer: Customer | None = None, **fields: Any) -> int:
    fields.setdefault("kind", "service_request.updated")
    fields.setdefault("topic", "service_request:SR-2026-000001")
    with transaction.atomic():
        event = live_event_emit(customer=customer, **fields)
    return event.pk


def stream(server: PortalServer, user: User | None, query: str = "", **headers: str) -> SSEClient:
    return SSEClient(
        f"{server.url}/live/events{query}",
        cookies=cookies_for(user) if user is not None else None,
        **headers,
    )


def test_anonymous_visitors_get_401(portal_server: PortalServer) -> None:
    with stream(portal_server, None) as client:
        assert client.status == 401
        assert b"Sign in" in client.body


def test_stream_answers_carry_the_pages_security_headers(
    portal_server: PortalServer, two_customers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="portal.live.stream"):
        with stream(portal_server, None) as refused:
            assert refused.status == 401
    assert "live stream refused: not signed in" in caplog.text  # denied access is logged
    with stream(portal_server, two_customers["member"]) as accepted:
        assert accepted.status == 200
    for client in (refused, accepted):
        headers = client.response_headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["cache-control"] == "no-store"


def test_only_get_is_allowed(portal_server: PortalServer) -> None:
    import httpx

    response = httpx.post(f"{portal_server.url}/live/events")
    assert response.status_code == 405


@pytest.mark.usefixtures("both_paths")
def test_an_event_reaches_its_customer_and_no_one_else(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    acme = two_customers["acme"]
    with (
        stream(portal_server, two_customers["member"]) as member,
        stream(portal_server, two_customers["stranger"]) as stranger,
        stream(portal_server, two_customers["billing"]) as billing,
    ):
        assert member.status == stranger.status == billing.status == 200
        started = time.monotonic()
        event_id = emit(acme, permission=Permission.REQUESTS_VIEW, data={"status": "in_progress"})
        frame = member.next(timeout=1.0)
        assert time.monotonic() - started < 1.0
        assert frame.id == str(event_id)
        assert frame.json == {
            "id": event_id,
            "kind": "service_request.updated",
            "topic": "service_request:SR-2026-000001",
            "data": {"status": "in_progress"},
        }
        # Another customer's user and a role without the permission get nothing.
        assert stranger.nothing_within(0.5)
        assert billing.nothing_within(0.1)


@pytest.mark.usefixtures("both_paths")
def test_personal_and_staff_events_reach_only_their_audience(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    staff = UserFactory(is_staff=True)
    with (
        stream(portal_server, member) as mine,
        stream(portal_server, staff) as staff_stream,
        stream(portal_server, two_customers["billing"]) as colleague,
    ):
        personal = emit(kind="notifications.changed", topic="notifications", user=member)
        internal = emit(kind="service_request.note", staff=True)
        assert mine.next().id == str(personal)
        assert staff_stream.next().id == str(internal)
        assert mine.nothing_within(0.4)
        assert colleague.nothing_within(0.1)


@pytest.mark.usefixtures("both_paths")
def test_reconnecting_with_last_event_id_replays_exactly_what_was_missed(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    acme, other = two_customers["acme"], two_customers["other"]
    member = two_customers["member"]
    with stream(portal_server, member) as first:
        seen = emit(acme)
        assert first.next().id == str(seen)
    # The connection dropped; meanwhile three things happened, one elsewhere.
    missed = [emit(acme, data={"n": 1}), emit(other), emit(acme, data={"n": 2})]
    with stream(portal_server, member, **{"Last-Event-ID": str(seen)}) as again:
        replayed = [again.next(), again.next()]
        assert [f.id for f in replayed] == [str(missed[0]), str(missed[2])]
        assert [f.json["data"] for f in replayed] == [{"n": 1}, {"n": 2}]
        live = emit(acme, data={"n": 3})
        assert again.next().id == str(live)  # and then it carries on live
        assert again.nothing_within(0.3)


def test_a_page_starts_its_stream_where_it_was_rendered(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    acme, member = two_customers["acme"], two_customers["member"]
    rendered_at = emit(acme)
    after_render = emit(acme)
    hub_caught_up()  # a lagging hub would hand the new stream ``rendered_at`` as well
    with stream(portal_server, member, f"?last_event_id={rendered_at}") as client:
        assert client.next().id == str(after_render)
        assert client.nothing_within(0.3)


def test_a_malformed_last_event_id_is_refused(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    with stream(portal_server, two_customers["member"], **{"Last-Event-ID": "abc"}) as client:
        assert client.status == 400


def test_too_much_missed_asks_the_page_to_reload(
    portal_server: PortalServer, two_customers: dict[str, Any], settings: Any
) -> None:
    settings.PORTAL_LIVE_REPLAY_LIMIT = 2
    acme = two_customers["acme"]
    start = emit(acme)
    for _ in range(3):
        emit(acme)
    # A hub that has not read the three yet answers from what it holds, and the rest
    # arrive live: nothing is lost, but nothing is "too much" either.
    hub_caught_up()
    with stream(portal_server, two_customers["member"], f"?last_event_id={start}") as client:
        assert client.next().event == "reload"


@pytest.mark.usefixtures("both_paths")
def test_a_changed_membership_closes_the_stream_for_a_fresh_start(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    with stream(portal_server, member) as client:
        with transaction.atomic():
            access_changed(user=member)
        assert client.ended.wait(2)


@pytest.mark.usefixtures("both_paths")
def test_quiet_streams_get_heartbeats_and_end_after_their_lifetime(
    portal_server: PortalServer, two_customers: dict[str, Any], settings: Any
) -> None:
    settings.PORTAL_LIVE_HEARTBEAT = 0.2
    settings.PORTAL_LIVE_MAX_STREAM_SECONDS = 1
    with stream(portal_server, two_customers["member"]) as client:
        # Ends after its 1 s lifetime; the wait leaves room for a loaded machine.
        assert client.ended.wait(10)
        assert "heartbeat" in client.comments


def test_open_streams_per_person_are_limited(
    portal_server: PortalServer, two_customers: dict[str, Any], settings: Any
) -> None:
    settings.PORTAL_LIVE_MAX_STREAMS_PER_USER = 1
    member = two_customers["member"]
    with stream(portal_server, member) as first, stream(portal_server, member) as second:
        assert first.status == 200
        assert second.status == 429


def test_an_expired_session_gets_no_stream(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    from importlib import import_module

    from portal.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED

    cookies = cookies_for(two_customers["member"])
    store = import_module(settings.SESSION_ENGINE).SessionStore(
        cookies[settings.SESSION_COOKIE_NAME]
    )
    long_ago = int(time.time()) - settings.PORTAL_SESSION_IDLE_TIMEOUT - 10
    store[SESSION_STARTED] = store[SESSION_LAST_SEEN] = long_ago
    store.save()
    with SSEClient(f"{portal_server.url}/live/events", cookies=cookies) as client:
        assert client.status == 401


def test_a_deactivated_user_gets_no_stream(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    cookies = cookies_for(member)
    User.objects.filter(pk=member.pk).update(is_active=False)
    with SSEClient(f"{portal_server.url}/live/events", cookies=cookies) as client:
        assert client.status == 401


def test_a_read_token_opens_the_stream_for_its_customer_only(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    from portal.customers.models import Membership
    from portal.tokens.models import TokenScope
    from portal.tokens.tests.factories import make_token

    acme, other, member = two_customers["acme"], two_customers["other"], two_customers["member"]
    # The member belongs to the other customer too; the token acts for Acme alone.
    Membership.objects.create(user=member, customer=other, role=Role.ADMIN)
    _, secret = make_token(member, acme, TokenScope.READ)
    url = f"{portal_server.url}/live/events"
    with SSEClient(url, Authorization=f"Bearer {secret}") as client:
        assert client.status == 200
        time.sleep(0.2)
        elsewhere = emit(other)
        staff_only = emit(kind="service_request.note", staff=True)
        mine = emit(acme, permission=Permission.REQUESTS_VIEW)
        personal = emit(kind="notifications.changed", topic="notifications", user=member)
        assert [client.next().id, client.next().id] == [str(mine), str(personal)]
        assert client.nothing_within(0.3)
        assert str(elsewhere) != str(staff_only)  # both were written, neither arrived


@pytest.mark.parametrize("how", ["revoked", "unknown", "basic"])
def test_a_bad_token_gets_401_even_beside_a_session(
    portal_server: PortalServer, two_customers: dict[str, Any], how: str
) -> None:
    from portal.tokens.services import token_revoke
    from portal.tokens.tests.factories import make_token

    member = two_customers["member"]
    token, secret = make_token(member, two_customers["acme"])
    if how == "revoked":
        token_revoke(token=token, actor=member)
        header = f"Bearer {secret}"
    elif how == "unknown":
        header = "Bearer cpat_" + "Q" * 40
    else:
        header = "Basic dXNlcjpwYXNz"
    with SSEClient(
        f"{portal_server.url}/live/events", cookies=cookies_for(member), Authorization=header
    ) as client:
        assert client.status == 401


def test_stream_use_of_a_token_is_recorded(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    from portal.core.models import AuditAction, AuditEvent
    from portal.tokens.tests.factories import make_token

    token, secret = make_token(two_customers["member"], two_customers["acme"])
    with SSEClient(f"{portal_server.url}/live/events", Authorization=f"Bearer {secret}") as client:
        assert client.status == 200
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_USED)
    assert event.ip_address == "127.0.0.1"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_stream_answers_carry_hsts_when_the_pages_do(settings: Any) -> None:
    from portal.live.stream import _security_headers

    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    headers = dict(_security_headers())
    assert headers[b"strict-transport-security"] == b"max-age=31536000; includeSubDomains; preload"
    settings.SECURE_HSTS_SECONDS = 0
    assert b"strict-transport-security" not in dict(_security_headers())


@pytest.mark.usefixtures("both_paths")
def test_a_client_that_goes_away_leaves_the_hub_at_once(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    from portal.live import hub as hub_module

    with stream(portal_server, two_customers["member"]) as client:
        assert client.status == 200
        hub = hub_module._hub
        assert hub is not None and len(hub.streams) == 1
    # Long before a heartbeat (20 s) would find out by writing.
    deadline = time.monotonic() + 2
    while hub.streams and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not hub.streams


def test_a_reconnect_replays_from_the_hubs_memory_without_a_query(
    portal_server: PortalServer, two_customers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.live import stream as stream_module

    acme, member = two_customers["acme"], two_customers["member"]
    with stream(portal_server, member) as first:
        seen = emit(acme)
        assert first.next().id == str(seen)
        missed = emit(acme)
        assert first.next().id == str(missed)  # so the hub has dispatched it

    def from_the_table(*args: object) -> None:
        raise AssertionError("replayed from the table")

    monkeypatch.setattr(stream_module, "_replay", from_the_table)
    with stream(portal_server, member, **{"Last-Event-ID": str(seen)}) as again:
        assert again.next().id == str(missed)
        assert again.nothing_within(0.2)
