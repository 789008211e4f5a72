"""Batched stream authentication: every page check holds, in queries that do not grow."""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.core.cache import caches
from django.test import Client

from portal.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.authentication import Credentials, authenticate, authenticate_many

pytestmark = pytest.mark.django_db


def session_cookie(user: User) -> tuple[str, str]:
    """A signed-in session for ``user``: (its key, the Cookie header)."""
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return key, f"{settings.SESSION_COOKIE_NAME}={key}"


def credentials(user: User) -> Credentials:
    return Credentials(cookie=session_cookie(user)[1])


def store(key: str) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(key)


@pytest.fixture
def acme() -> Customer:
    return make_customer("Acme Ltd")


def test_a_batch_answers_each_connect_in_order(acme: Customer) -> None:
    member, admin = make_member(acme, Role.MEMBER), make_member(acme, Role.ADMIN)
    staff = UserFactory(is_staff=True)
    batch = [
        credentials(member),
        Credentials(),  # no cookie
        Credentials(cookie=f"{settings.SESSION_COOKIE_NAME}=not-a-session-key-at-all"),
        credentials(staff),
        Credentials(cookie=f"{settings.SESSION_COOKIE_NAME}=x"),  # malformed key
        credentials(admin),
    ]
    viewers = authenticate_many(batch)
    assert [v.user_id if v else None for v in viewers] == [
        member.pk, None, None, staff.pk, None, admin.pk
    ]  # fmt: skip
    assert viewers[0] is not None and set(viewers[0].grants) == {acme.pk}
    assert viewers[3] is not None and viewers[3].is_staff and not viewers[3].grants


def test_the_query_count_does_not_grow_with_the_batch(
    acme: Customer, django_assert_max_num_queries: Any, django_assert_num_queries: Any
) -> None:
    small = [credentials(make_member(acme)) for _ in range(2)]
    large = [credentials(make_member(acme)) for _ in range(20)]
    with django_assert_max_num_queries(2) as counted:  # users, memberships
        assert all(authenticate_many(small))
    with django_assert_num_queries(len(counted.captured_queries)):
        assert all(authenticate_many(large))


def test_sessions_missing_from_the_cache_are_read_from_the_database_in_one_query(
    acme: Customer, django_assert_num_queries: Any
) -> None:
    batch = [credentials(make_member(acme)) for _ in range(5)]
    caches[settings.SESSION_CACHE_ALIAS].clear()
    with django_assert_num_queries(3):  # sessions, users, memberships
        assert all(authenticate_many(batch))


def test_a_signed_out_session_is_refused(acme: Customer) -> None:
    key, cookie = session_cookie(make_member(acme))
    store(key).delete()
    assert authenticate(Credentials(cookie=cookie)) is None


def test_an_expired_session_is_refused(acme: Customer) -> None:
    key, cookie = session_cookie(make_member(acme))
    session = store(key)
    long_ago = int(time.time()) - settings.PORTAL_SESSION_MAX_AGE - 10
    session[SESSION_STARTED] = session[SESSION_LAST_SEEN] = long_ago
    session.save()
    assert authenticate(Credentials(cookie=cookie)) is None


def test_an_inactive_or_missing_user_is_refused(acme: Customer) -> None:
    inactive = make_member(acme)
    gone_key, gone_cookie = session_cookie(make_member(acme))
    session = store(gone_key)
    session[SESSION_KEY] = str(User.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1)
    session.save()
    batch = [credentials(inactive), Credentials(cookie=gone_cookie)]
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    assert authenticate_many(batch) == [None, None]


def test_a_changed_password_ends_the_sessions_made_before(acme: Customer) -> None:
    member = make_member(acme)
    before = credentials(member)
    member.set_password("a new password 2026!")
    member.save()
    assert authenticate(before) is None
    assert authenticate(credentials(member)) is not None  # a session made since is fine


def test_a_session_from_an_unknown_backend_is_refused(acme: Customer) -> None:
    key, cookie = session_cookie(make_member(acme))
    session = store(key)
    session[BACKEND_SESSION_KEY] = "somewhere.else.Backend"
    session.save()
    assert authenticate(Credentials(cookie=cookie)) is None


def test_a_member_who_must_set_up_a_second_factor_is_refused_until_they_do(
    acme: Customer,
) -> None:
    Customer.objects.filter(pk=acme.pk).update(require_mfa=True)
    member = make_member(acme)
    assert authenticate(credentials(member)) is None
    Authenticator.objects.create(user=member, type=Authenticator.Type.TOTP, data={})
    assert authenticate(credentials(member)) is not None


def test_a_removed_membership_is_gone_at_the_next_connect(acme: Customer) -> None:
    member = make_member(acme)
    other = make_customer("Other plc", admin=member)
    cookie = credentials(member)
    viewer = authenticate(cookie)
    assert viewer is not None and set(viewer.grants) == {acme.pk, other.pk}
    member.memberships.filter(customer=other).delete()
    viewer = authenticate(cookie)
    assert viewer is not None and set(viewer.grants) == {acme.pk}


def test_a_token_in_a_batch_is_checked_on_its_own(acme: Customer) -> None:
    from portal.tokens.tests.factories import make_token

    member = make_member(acme)
    make_customer("Other plc", admin=member)
    _, secret = make_token(member, acme)
    token, session = authenticate_many(
        [Credentials(authorization=f"Bearer {secret}"), credentials(member)]
    )
    assert token is not None and set(token.grants) == {acme.pk} and not token.is_staff
    assert session is not None and len(session.grants) == 2
    assert authenticate(Credentials(authorization="Bearer cpat_" + "Q" * 40)) is None
