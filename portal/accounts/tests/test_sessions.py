"""What a signed-in session writes when it is seen again: the session row (its
last-seen time) and its row in "active sessions", each in one statement, while
allauth still notes a new address or browser and Django's session semantics hold."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from allauth.usersessions.signals import session_client_changed
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from portal.accounts.session_store import SessionStore
from portal.core.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _signed_in(client: Client) -> str:
    user = UserFactory()
    client.post(
        "/accounts/login/",
        {"login": user.email, "password": TEST_PASSWORD},
        HTTP_USER_AGENT=BROWSER,
    )
    return str(client.session.session_key)


def _seen_long_ago(client: Client, session_key: str) -> None:
    """The session last seen 10 minutes ago, past the 5 minutes that make a write due."""
    session = client.session
    now = int(time.time())
    session[SESSION_STARTED] = now - 1200
    session[SESSION_LAST_SEEN] = now - 600
    session.save()
    UserSession.objects.filter(session_key=session_key).update(
        last_seen_at=timezone.now() - timedelta(minutes=10)
    )


TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _session_writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements about sessions, and any transaction (a savepoint inside a
    test's own transaction) around them: "UPDATE django_session", "SAVEPOINT"."""
    return [
        "SAVEPOINT"
        if q["sql"].startswith(TRANSACTION)
        else q["sql"].split(" ", 1)[0] + " " + q["sql"].split('"', 2)[1]
        for q in queries.captured_queries
        if "session" in q["sql"] or q["sql"].startswith(TRANSACTION)
    ]


def test_a_session_seen_again_is_written_in_two_statements(client: Client) -> None:
    key = _signed_in(client)
    _seen_long_ago(client, key)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz", HTTP_USER_AGENT=BROWSER).status_code == 200
    # Django's write and allauth's were eight: a transaction each, reads of the
    # activity row and its user, and saves of both rows.
    assert _session_writes(queries) == [
        "UPDATE usersessions_usersession",
        "UPDATE django_session",
    ]
    activity = UserSession.objects.get(session_key=key)
    assert timezone.now() - activity.last_seen_at < timedelta(seconds=5)
    assert activity.user_agent == BROWSER
    stored = Session.objects.get(session_key=key).get_decoded()
    assert int(time.time()) - stored[SESSION_LAST_SEEN] <= 2
    cache.clear()  # what a page reads once the cache has lost the session
    assert int(time.time()) - client.session[SESSION_LAST_SEEN] <= 2


def test_a_session_not_due_writes_nothing(client: Client) -> None:
    _signed_in(client)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz", HTTP_USER_AGENT=BROWSER).status_code == 200
    assert _session_writes(queries) == []


def test_a_session_seen_from_another_browser_is_noted_as_allauth_does(client: Client) -> None:
    key = _signed_in(client)
    _seen_long_ago(client, key)
    changes: list[tuple[str, str]] = []

    def noted(*, from_session: UserSession, to_session: UserSession, **_: object) -> None:
        changes.append((from_session.user_agent, to_session.user_agent))

    session_client_changed.connect(noted)
    try:
        client.get("/healthz", HTTP_USER_AGENT="curl/8.14")
    finally:
        session_client_changed.disconnect(noted)
    assert changes == [(BROWSER, "curl/8.14")]
    activity = UserSession.objects.get(session_key=key)
    assert activity.user_agent == "curl/8.14"
    assert timezone.now() - activity.last_seen_at < timedelta(seconds=5)


def test_a_session_without_its_activity_row_gets_one(client: Client) -> None:
    key = _signed_in(client)
    _seen_long_ago(client, key)
    UserSession.objects.filter(session_key=key).delete()
    client.get("/healthz", HTTP_USER_AGENT=BROWSER)
    activity = UserSession.objects.get(session_key=key)
    assert activity.user.email == UserFactory._meta.model.objects.get().email
    assert activity.user_agent == BROWSER


def test_a_known_session_is_saved_in_one_statement_and_read_back() -> None:
    store = SessionStore()
    store["cart"] = "first"
    store.save()  # a new session: Django's own create
    store = SessionStore(store.session_key)
    store["cart"] = "second"
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert _session_writes(queries) == ["UPDATE django_session"]
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"cart": "second"}
    cache.clear()
    assert SessionStore(store.session_key)["cart"] == "second"


@pytest.mark.parametrize("engine", [SessionStore, cached_db.SessionStore], ids=["portal", "django"])
def test_a_session_ended_meanwhile_is_not_written_back(engine: type[SessionStore]) -> None:
    """Signed out on another device while this request ran: the write fails as
    Django's does (its middleware answers "session interrupted") and no row comes back."""
    store = engine()
    store["cart"] = "first"
    store.save()
    store = engine(store.session_key)
    store["cart"] = "second"
    Session.objects.filter(session_key=store.session_key).delete()
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.filter(session_key=store.session_key).exists()


def test_a_request_whose_session_ended_meanwhile_is_told_so(client: Client) -> None:
    key = _signed_in(client)
    _seen_long_ago(client, key)
    # The row goes, as a sign-out elsewhere would take it, between the read and the write.
    Session.objects.filter(session_key=key).delete()
    response = client.get("/healthz", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 400
    assert not Session.objects.filter(session_key=key).exists()
