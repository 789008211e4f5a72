"""The signed-in user comes from the process's memory only while their row is unchanged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.accounts import user_cache
from portal.accounts.models import User
from portal.core.fragments import versions
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

pytestmark = pytest.mark.django_db


def _user_queries(client: Client, path: str = "/dashboard/") -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    reads = [q for q in captured.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    return status, len(reads)


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_user_is_read_once_while_their_row_is_unchanged() -> None:
    client = _signed_in(make_member(make_customer(), Role.ADMIN))
    assert _user_queries(client) == (200, 1)
    assert _user_queries(client) == (200, 0)
    assert _user_queries(client, "/requests/") == (200, 0)


def test_a_deactivated_user_is_signed_out_at_the_next_request() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    assert _user_queries(client) == (200, 1)
    user.is_active = False
    user.save()
    assert client.get("/dashboard/").status_code == 302  # to the sign-in page


def test_a_changed_password_ends_the_other_sessions() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    laptop, phone = _signed_in(user), _signed_in(user)
    assert laptop.get("/dashboard/").status_code == phone.get("/dashboard/").status_code == 200
    changed = User.objects.get(pk=user.pk)  # as another process would load it
    changed.set_password("a-new-long-passphrase-2026")
    changed.save()
    assert phone.get("/dashboard/").status_code == 302


def test_a_new_staff_flag_is_seen_at_once() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    assert "Back office" not in client.get("/dashboard/").content.decode()
    user.is_staff = True
    user.save()
    assert "Back office" in client.get("/dashboard/").content.decode()


def test_each_user_gets_their_own_row() -> None:
    customer = make_customer()
    alice = make_member(customer, Role.ADMIN, email="alice@example.com")
    bob = make_member(customer, Role.MEMBER, email="bob@example.com")
    as_alice, as_bob = _signed_in(alice), _signed_in(bob)
    for _ in range(2):
        assert "alice@example.com" in as_alice.get("/dashboard/").content.decode()
        page = as_bob.get("/dashboard/").content.decode()
        assert "bob@example.com" in page and "alice@example.com" not in page


def test_without_a_cache_every_request_reads_the_user(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    client = _signed_in(make_member(make_customer(), Role.ADMIN))
    client.get("/dashboard/")
    assert _user_queries(client) == (200, 1)
    assert _user_queries(client) == (200, 1)


def test_a_request_gets_an_instance_of_its_own() -> None:
    from django.contrib.auth.backends import ModelBackend

    user = make_member(make_customer(), Role.ADMIN)
    first, second = ModelBackend().get_user(user.pk), ModelBackend().get_user(user.pk)
    assert first == second and first is not second
    first.first_name = "Changed in one request"  # type: ignore[union-attr]
    assert second.first_name != "Changed in one request"  # type: ignore[union-attr]


def test_a_user_read_by_one_process_is_not_read_again_by_another() -> None:
    client = _signed_in(make_member(make_customer(), Role.ADMIN))
    assert _user_queries(client) == (200, 1)
    user_cache.forget_all()  # another server process: nothing of this user in its memory
    assert _user_queries(client) == (200, 0)
    assert _user_queries(client) == (200, 0)


def test_the_shared_copy_holds_no_password_hash() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    _user_queries(_signed_in(user))
    user.refresh_from_db()
    version = versions(users=[user.pk])
    entry = cache.get(user_cache._shared_key(user.pk, version))
    _version, _until, names, values, session_hash = entry
    assert "password" not in names and user.password not in values
    assert user.password not in repr(entry)
    assert session_hash == user.get_session_auth_hash()


def test_a_changed_password_ends_the_other_sessions_on_every_process() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    laptop, phone = _signed_in(user), _signed_in(user)
    assert laptop.get("/dashboard/").status_code == phone.get("/dashboard/").status_code == 200
    user_cache.forget_all()
    assert phone.get("/dashboard/").status_code == 200  # from the shared copy
    changed = User.objects.get(pk=user.pk)
    changed.set_password("a-new-long-passphrase-2026")
    changed.save()
    user_cache.forget_all()
    assert phone.get("/dashboard/").status_code == 302


def test_a_new_secret_key_is_not_answered_with_the_old_session_hash(settings: Any) -> None:
    client = _signed_in(make_member(make_customer(), Role.ADMIN))
    assert _user_queries(client) == (200, 1)  # shared, with the hash under the old key
    user_cache.forget_all()
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 50
    # Django checks the session against a hash made with the new key: signed out.
    assert client.get("/dashboard/").status_code == 302


def test_a_user_from_the_shared_copy_loads_its_password_when_asked() -> None:
    from django.contrib.auth.backends import ModelBackend

    user = make_member(make_customer(), Role.ADMIN)
    user.set_password("the-current-passphrase-2026")
    user.save()
    ModelBackend().get_user(user.pk)  # read from the database, shared
    user_cache.forget_all()
    with CaptureQueriesContext(connection) as captured:
        shared: Any = ModelBackend().get_user(user.pk)
    assert len(captured) == 0
    assert "password" not in shared.__dict__
    assert shared.get_session_auth_hash() == user.get_session_auth_hash()
    with CaptureQueriesContext(connection) as captured:
        assert shared.check_password("the-current-passphrase-2026")
    assert len(captured) == 1  # the password hash, loaded for this
    shared.set_password("another-passphrase-2026")
    assert shared.get_session_auth_hash() != user.get_session_auth_hash()


def test_a_row_shared_with_other_fields_is_read_afresh() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    assert _user_queries(client) == (200, 1)
    key = user_cache._shared_key(user.pk, versions(users=[user.pk]))
    version, until, names, values, session_hash = cache.get(key)
    # As an older release would have shared it: one field more, the values shifted.
    cache.set(key, (version, until, ("removed_field", *names), (True, *values), session_hash))
    user_cache.forget_all()
    assert _user_queries(client) == (200, 1)


def test_a_row_is_read_again_once_its_time_is_up() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    assert _user_queries(client) == (200, 1)
    key = user_cache._shared_key(user.pk, versions(users=[user.pk]))
    version, _until, *rest = user_cache._rows[user.pk]
    past = time.time() - 1
    # Its time is up in this process's memory and in the shared copy alike.
    user_cache._rows[user.pk] = (version, past, *rest)  # type: ignore[assignment]
    shared_version, _shared_until, *shared_rest = cache.get(key)
    cache.set(key, (shared_version, past, *shared_rest))
    assert _user_queries(client) == (200, 1)
    assert _user_queries(client) == (200, 0)


def test_rows_read_together_are_not_read_again_together() -> None:
    """Each row is used for 3¾ to 5 minutes, drawn when it is read: users who all
    signed in after a restart do not all come due again in the same moment."""
    customer = make_customer()
    users = [make_member(customer, Role.MEMBER) for _ in range(12)]
    read_at = time.time()
    for user in users:
        _user_queries(_signed_in(user))
    times = [user_cache._rows[user.pk][1] - read_at for user in users]
    assert all(user_cache.MIN_AGE <= t <= user_cache.MAX_AGE + 5 for t in times)
    assert len({round(t) for t in times}) > 1
    shared = cache.get(user_cache._shared_key(users[0].pk, versions(users=[users[0].pk])))
    assert shared[1] == user_cache._rows[users[0].pk][1]  # the other processes keep its time


def _cache_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of each read of the cache from now on, one list per round trip (the
    in-memory cache's get_many calls its get for each key: those are not counted)."""
    from django.core.cache import caches

    backend = caches["default"]
    reads: list[list[str]] = []
    inside: list[bool] = []
    get, get_many = backend.get, backend.get_many

    def counting_get(key: str, *args: Any, **kwargs: Any) -> Any:
        if not inside:
            reads.append([key])
        return get(key, *args, **kwargs)

    def counting_get_many(keys: list[str], *args: Any, **kwargs: Any) -> Any:
        reads.append(list(keys))
        inside.append(True)
        try:
            return get_many(keys, *args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(backend, "get", counting_get)
    monkeypatch.setattr(backend, "get_many", counting_get_many)
    return reads


def test_a_known_session_is_read_with_its_users_version(monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    session = f"django.contrib.sessions.cached_db{client.session.session_key}"
    client.get("/dashboard/")  # this process learns whose session it is
    reads = _cache_reads(monkeypatch)
    assert _user_queries(client) == (200, 0)
    assert reads[0] == [session, f"fragver:u:{user.pk}"]
    # Nothing else asks for the session or the user's version again.
    assert sum(session in keys or f"fragver:u:{user.pk}" in keys for keys in reads) == 1


def test_a_user_changed_after_the_session_was_first_read_is_read_afresh() -> None:
    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    assert _user_queries(client) == (200, 1)
    assert _user_queries(client) == (200, 0)  # the session and the version in one read
    user.is_active = False
    user.save()
    assert client.get("/dashboard/").status_code == 302  # to the sign-in page


def test_a_session_remembered_for_another_user_gets_its_own_users_version() -> None:
    from portal.accounts import session_store

    customer = make_customer()
    alice = make_member(customer, Role.ADMIN, email="alice@example.com")
    bob = make_member(customer, Role.MEMBER, email="bob@example.com")
    as_alice = _signed_in(alice)
    as_alice.get("/dashboard/")
    key = as_alice.session.session_key or ""
    digest = session_store._digest(key)
    # The process's memory says the session is Bob's (a wrong hint): Bob's version is
    # read with the session, and not kept for Alice's user check.
    session_store._users[digest] = str(bob.pk)
    session = session_store.SessionStore(key)
    session.load()
    assert session.versions_ahead is None
    assert session_store._users[digest] == str(alice.pk)  # the load corrected the memory
    session_store._users[digest] = str(bob.pk)
    alice.is_active = False
    alice.save()
    assert as_alice.get("/dashboard/").status_code == 302


def test_a_version_read_ahead_is_not_taken_outside_its_requests_user_read() -> None:
    from django.contrib.auth.backends import ModelBackend

    from portal.accounts.session_store import SessionStore, reading_user_of, version_read_ahead

    user = make_member(make_customer(), Role.ADMIN)
    client = _signed_in(user)
    client.get("/dashboard/")
    session = SessionStore(client.session.session_key)
    session.load()
    assert session.versions_ahead == {f"fragver:u:{user.pk}": versions(users=[user.pk])}
    # Not while no request is reading its user with this session.
    assert version_read_ahead(user.pk) is None
    token = reading_user_of.set(session)
    try:
        assert version_read_ahead(user.pk) == versions(users=[user.pk])
        assert version_read_ahead(user.pk) is None  # taken once
        assert ModelBackend().get_user(user.pk) == user  # then asked of the cache
    finally:
        reading_user_of.reset(token)
