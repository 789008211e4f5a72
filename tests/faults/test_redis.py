"""Redis stopped under two portal nodes that use it for the cache and the live bus.

Pages keep working (sign-in, the dashboard, sign-out: sessions, rate limits and
everything else in the cache degrade to the database or to no cache), the open
live stream stays open and still receives every event, and when Redis is back
each node subscribes again by itself.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_client

from portal.core.cache import ResilientRedisCache
from tests.cluster import Cluster
from tests.services import redis
from tests.sse import SSEClient

from . import wait_for
from .conftest import MigratedPostgres

PASSWORD = "a long and unguessable passphrase"  # noqa: S105 - a test user's

SETUP = f"""
import json
from django.conf import settings
from django.test import Client
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.servicedesk.tests.factories import make_request_type
from portal.tokens.models import TokenScope
from portal.tokens.services import token_create

acme = make_customer("Acme Ltd")
member = make_member(acme, Role.MEMBER, password={PASSWORD!r})
make_request_type()
_, token = token_create(user=member, customer=acme, name="events", scope=TokenScope.WRITE,
                        expires_in_days=1)
client = Client()
client.force_login(member)
print(json.dumps({{"email": member.email, "token": token,
                  "cookie": {{settings.SESSION_COOKIE_NAME:
                             client.cookies[settings.SESSION_COOKIE_NAME].value}}}}))
"""


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


def _sign_in_look_around_and_out(base: str, email: str) -> None:
    """A whole visit with a password: every step must answer as usual."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/accounts/login/")
        assert form.status_code == 200
        signed_in = client.post(
            "/accounts/login/",
            data={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(form)},
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        dashboard = client.get("/dashboard/")
        assert dashboard.status_code == 200 and email in dashboard.text
        assert client.get("/requests/").status_code == 200
        signed_out = client.post(
            "/accounts/logout/", data={"csrfmiddlewaretoken": _csrf(dashboard)}
        )
        assert signed_out.status_code == 302
        assert client.get("/dashboard/").status_code == 302  # signed out for good


def _subscribers(url: str) -> int:
    try:
        with redis_client.Redis.from_url(url) as client:
            [(_, count)] = client.pubsub_numsub("portal:live")
            return int(count)
    except redis_client.ConnectionError:
        return 0


def _next_for(stream: SSEClient, reference: str) -> str:
    """The id of the stream's next event about ``reference``; other events are skipped."""
    while True:
        frame = stream.next(timeout=30)
        if frame.json.get("data", {}).get("reference") == reference:
            return frame.id


@pytest.mark.postgres
def test_redis_down_pages_work_and_the_live_stream_loses_no_event(
    tmp_path: Path, migrated_postgres: MigratedPostgres
) -> None:
    from django.conf import settings

    with (
        redis() as server,
        Cluster(
            data_dir=tmp_path,
            nodes=2,
            migrate=False,
            DATABASE_URL=migrated_postgres.new_database(),
            REDIS_URL=server.url,
            PORTAL_LIVE_BUS="redis",
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
        ) as cluster,
    ):
        info: Any = cluster.python(SETUP)
        node_a, node_b = cluster.urls

        def emit(n: int) -> str:
            """A request submitted through node A: an event for the member's streams."""
            answer = httpx.post(
                f"{node_a}/api/v1/service-requests",
                json={"request_type": "access-card", "title": f"Event {n}",
                      "answers": {"details": "x"}},
                headers={"Authorization": f"Bearer {info['token']}"},
                timeout=30,
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
            return str(answer.json()["reference"])

        with (
            SSEClient(f"{node_a}/live/events", cookies=info["cookie"]) as on_a,
            SSEClient(f"{node_b}/live/events", cookies=info["cookie"]) as on_b,
        ):
            assert on_a.status == on_b.status == 200
            # Each node's hub subscribes when its first stream opens.
            assert wait_for(lambda: _subscribers(server.url) == 2)
            first = emit(1)
            ids = [_next_for(on_a, first), _next_for(on_b, first)]

            server.stop()
            # Pages on both nodes, including the steps that write to the cache
            # (rate limits of the sign-in, the session, its deletion at sign-out).
            _sign_in_look_around_and_out(node_a, info["email"])
            _sign_in_look_around_and_out(node_b, info["email"])
            # The open streams stay open, and an event committed while Redis is
            # down still reaches them: node B finds it in the event table.
            second = emit(2)
            ids += [_next_for(on_a, second), _next_for(on_b, second)]

            server.start()
            # Each node subscribes again by itself, without a restart ...
            assert wait_for(lambda: _subscribers(server.url) == 2)
            third = emit(3)
            ids += [_next_for(on_a, third), _next_for(on_b, third)]
            _sign_in_look_around_and_out(node_b, info["email"])
        # ... and both streams, open all along, got every event in order.
        assert ids[0::2] == ids[1::2] == sorted(set(ids[0::2]), key=int)

        # A browser that reconnects after the first event is given the rest.
        with SSEClient(
            f"{node_b}/live/events", cookies=info["cookie"], **{"Last-Event-ID": ids[0]}
        ) as again:
            assert [_next_for(again, second), _next_for(again, third)] == ids[2::2]


def test_the_cache_answers_while_redis_hangs_and_forgets_what_changed_meanwhile() -> None:
    """Redis frozen (SIGSTOP: it keeps its data but does not answer), then thawed."""
    session_key = "django.contrib.sessions.cached_dbabc123"
    with redis() as server:
        assert server.process is not None
        cache = ResilientRedisCache(
            server.url, {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}
        )
        cache.set(session_key, {"_auth_user_id": "7"})
        cache.set("limit:1.2.3.4", 3)
        server.process.send_signal(signal.SIGSTOP)
        try:
            # The person signs out meanwhile: no error, and no stale answer.
            cache.delete(session_key)
            assert cache.get(session_key) is None
            cache.set(session_key, {"_auth_user_id": "8"})  # skipped: the database has it
            assert cache.get(session_key) is None
            # Rate limits are still counted, in this process.
            assert cache.add("limit:5.6.7.8", 0, 60) is True
            assert [cache.incr("limit:5.6.7.8") for _ in range(3)] == [1, 2, 3]
            assert cache.add("limit:5.6.7.8", 0, 60) is False
        finally:
            server.process.send_signal(signal.SIGCONT)
        # Redis still holds the copy from before; the first call after the outage
        # deletes what changed meanwhile before anything is read from it.
        assert wait_for(lambda: cache.get("limit:1.2.3.4") == 3)
        assert cache.get(session_key) is None
        with redis_client.Redis.from_url(server.url) as direct:
            assert direct.exists(cache.make_key(session_key)) == 0
        cache.set(session_key, {"_auth_user_id": "7"})
        assert cache.get(session_key) == {"_auth_user_id": "7"}
