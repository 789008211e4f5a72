"""Authentication, scopes, CSRF, two-factor policy and rate limits, for every kind of caller."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.utils import timezone

from portal.accounts.models import User
from portal.core.models import AuditAction, AuditEvent
from portal.customers.models import Membership
from portal.live.models import Notification
from portal.tokens.models import PersonalAccessToken
from portal.tokens.secret import hash_token
from portal.tokens.services import token_revoke

from .client import ApiClient
from .world import World, build_world

pytestmark = pytest.mark.django_db

# Every write the API offers, with a body that would be valid.
WRITES = [
    ("PATCH", "me", {"first_name": "Changed"}),
    ("POST", "notifications/read", None),
]


@pytest.fixture
def world() -> World:
    return build_world()


def _token_row(secret: str) -> PersonalAccessToken:
    return PersonalAccessToken.objects.get(token_hash=hash_token(secret))


def assert_problem(response: Any, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    if type_suffix is not None:
        assert body["type"].endswith(type_suffix), body
    return body


def test_no_credentials_is_a_401_problem() -> None:
    response = ApiClient().get("me")
    assert_problem(response, 401, "/invalid-token")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "Bearer  "])
def test_a_malformed_authorization_header_is_a_401(header: str) -> None:
    response = Client(headers={"Authorization": header}).get("/api/v1/me")
    assert_problem(response, 401)


def test_a_token_authenticates_as_its_owner_for_its_customer(world: World) -> None:
    body = ApiClient(world.write_token).get("me").json()
    assert body["email"] == world.member.email
    assert body["authentication"]["via"] == "token"
    assert body["authentication"]["scopes"] == ["read", "write"]
    assert [m["customer"]["id"] for m in body["memberships"]] == [world.acme.pk]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_token_cannot_write(world: World, method: str, path: str, body: Any) -> None:
    api = ApiClient(world.read_token)
    assert api.get("me").status_code == 200
    response = api.request(method, path, body)
    assert_problem(response, 403, "/insufficient-scope")
    world.member.refresh_from_db()
    assert world.member.first_name != "Changed"
    assert Notification.objects.get(pk=world.mine.pk).read_at is None


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_token_can_write(world: World, method: str, path: str, body: Any) -> None:
    response = ApiClient(world.write_token).request(method, path, body)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("how", ["expired", "revoked", "left", "deactivated", "deleted"])
def test_a_token_that_no_longer_works_gets_401(world: World, how: str) -> None:
    token = _token_row(world.write_token)
    if how == "expired":
        PersonalAccessToken.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif how == "revoked":
        token_revoke(token=token, actor=world.member)
    elif how == "left":
        Membership.objects.filter(user=world.member, customer=world.acme).delete()
    elif how == "deactivated":
        User.objects.filter(pk=world.member.pk).update(is_active=False)
    else:
        PersonalAccessToken.objects.filter(pk=token.pk).delete()
    for method, path, body in [("GET", "me", None), *WRITES]:
        assert_problem(ApiClient(world.write_token).request(method, path, body), 401)


def test_a_refused_token_is_audited_once_a_minute(world: World) -> None:
    token = _token_row(world.write_token)
    token_revoke(token=token, actor=world.member)
    for _ in range(3):
        ApiClient(world.write_token).get("me")
    refused = AuditEvent.objects.filter(action=AuditAction.TOKEN_REFUSED)
    assert refused.count() == 1
    assert refused.get().data["reason"] == "revoked"


def test_token_use_is_audited_once_a_minute_with_last_used_time(world: World) -> None:
    api = ApiClient(world.write_token)
    for _ in range(3):
        assert api.get("me").status_code == 200
    used = AuditEvent.objects.filter(action=AuditAction.TOKEN_USED, subject_user=world.member)
    assert used.count() == 1
    assert used.get().customer_id == world.acme.pk
    assert _token_row(world.write_token).last_used_at is not None


def test_the_role_of_today_applies_not_that_of_the_day_the_token_was_made(world: World) -> None:
    Membership.objects.filter(user=world.member, customer=world.acme).update(role="billing")
    body = ApiClient(world.write_token).get("me").json()
    assert body["memberships"][0]["role"] == "billing"


def test_the_session_works_for_reads_and_needs_csrf_for_writes(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    api = ApiClient(client=client)
    body = api.get("me").json()
    assert body["authentication"] == {"via": "session", "scopes": ["read", "write"], "token": None}

    assert_problem(api.patch("me", {"first_name": "Changed"}), 403, "/csrf-failed")
    world.member.refresh_from_db()
    assert world.member.first_name != "Changed"

    client.get("/accounts/profile/")  # sets the CSRF cookie, as any page does
    csrf = client.cookies["csrftoken"].value
    response = api.patch("me", {"first_name": "Changed"}, **{"X-CSRFToken": csrf})
    assert response.status_code == 200
    world.member.refresh_from_db()
    assert world.member.first_name == "Changed"


def test_a_token_does_not_need_csrf_and_ignores_a_session_beside_it(world: World) -> None:
    client = Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Bearer {world.write_token}"}
    )
    client.force_login(world.stranger)
    body = ApiClient(client=client).get("me").json()
    assert body["email"] == world.member.email
    assert ApiClient(client=client).patch("me", {"city": "Bern"}).status_code == 200


def test_a_bad_token_is_refused_even_with_a_valid_session(world: World) -> None:
    client = Client(headers={"Authorization": "Bearer cpat_" + "x" * 40})
    client.force_login(world.member)
    assert_problem(client.get("/api/v1/me"), 401)


def test_an_expired_session_is_a_401_not_a_redirect(world: World, settings: Any) -> None:
    from portal.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED

    client = Client()
    client.force_login(world.member)
    session = client.session
    long_ago = int(timezone.now().timestamp()) - settings.PORTAL_SESSION_IDLE_TIMEOUT - 10
    session[SESSION_STARTED] = session[SESSION_LAST_SEEN] = long_ago
    session.save()
    assert_problem(client.get("/api/v1/me"), 401)


@pytest.mark.parametrize("via", ["token", "session"])
def test_a_required_second_factor_is_enforced(world: World, via: str) -> None:
    world.acme.require_mfa = True
    world.acme.save()
    if via == "token":
        api = ApiClient(world.write_token)
    else:
        client = Client()
        client.force_login(world.member)
        api = ApiClient(client=client)
    assert_problem(api.get("me"), 403, "/mfa-required")
    Authenticator.objects.create(user=world.member, type=Authenticator.Type.TOTP, data={})
    assert api.get("me").status_code == 200


def test_too_many_requests_per_token_get_429_with_retry_after(world: World, settings: Any) -> None:
    settings.PORTAL_API_RATE_LIMIT = (3, 60)
    api = ApiClient(world.write_token)
    assert [api.get("me").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("me")
    body = assert_problem(response, 429, "/rate-limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Retry-After"] in body["detail"]
    # Another token of the same person has its own budget.
    assert ApiClient(world.read_token).get("me").status_code == 200


def test_too_many_requests_per_address_get_429_even_without_a_token(
    world: World, settings: Any
) -> None:
    settings.PORTAL_API_RATE_LIMIT_IP = (2, 60)
    assert ApiClient().get("me").status_code == 401
    assert ApiClient(world.write_token).get("me").status_code == 200
    response = ApiClient().get("me")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1
    other_address = Client(
        REMOTE_ADDR="10.9.8.7", headers={"Authorization": f"Bearer {world.write_token}"}
    )
    assert other_address.get("/api/v1/me").status_code == 200
