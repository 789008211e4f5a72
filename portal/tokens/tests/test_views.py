from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.tokens.models import PersonalAccessToken, TokenScope
from portal.tokens.secret import TOKEN_PREFIX

from .factories import make_token

pytestmark = pytest.mark.django_db

SECRET = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9]{{40}}")


@pytest.fixture
def acme() -> Customer:
    return make_customer("Acme Ltd")


def _create(client: Client, customer: Customer, **fields: str) -> str:
    response = client.post(
        "/accounts/tokens/",
        {
            "name": "ERP sync",
            "customer": str(customer.pk),
            "scope": TokenScope.READ,
            "expires_in_days": "30",
            **fields,
        },
    )
    assert response.status_code == 201, response.content.decode()
    return response.content.decode()


def test_the_page_needs_sign_in(client: Client) -> None:
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_secret_is_shown_exactly_once(client: Client, acme: Customer) -> None:
    user = make_member(acme, Role.MEMBER)
    client.force_login(user)
    page = _create(client, acme)
    secrets = SECRET.findall(page)
    assert len(secrets) == 1, "the new token's secret appears once on the page"
    secret = secrets[0]
    token = PersonalAccessToken.objects.get(user=user)
    assert (token.name, token.customer, token.scope) == ("ERP sync", acme, "read")

    # Not cached, not in the session, not on any later page.
    response = client.get("/accounts/tokens/")
    assert secret not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "ERP sync" in response.content.decode()
    for session in Session.objects.all():
        assert secret not in str(session.get_decoded())


def test_the_answer_that_shows_the_secret_is_not_cached(client: Client, acme: Customer) -> None:
    client.force_login(make_member(acme, Role.MEMBER))
    response = client.post(
        "/accounts/tokens/",
        {"name": "x", "customer": acme.pk, "scope": "write", "expires_in_days": "7"},
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]


def test_a_token_acts_only_for_a_customer_of_the_person(client: Client, acme: Customer) -> None:
    other = make_customer("Other plc")
    client.force_login(make_member(acme, Role.MEMBER))
    response = client.post(
        "/accounts/tokens/",
        {"name": "x", "customer": other.pk, "scope": "read", "expires_in_days": "30"},
    )
    assert response.status_code == 200
    assert not PersonalAccessToken.objects.exists()
    assert not SECRET.search(response.content.decode())


def test_expiry_is_one_of_the_offered_lifetimes(client: Client, acme: Customer) -> None:
    client.force_login(make_member(acme, Role.MEMBER))
    response = client.post(
        "/accounts/tokens/",
        {"name": "x", "customer": acme.pk, "scope": "read", "expires_in_days": "9999"},
    )
    assert response.status_code == 200
    assert not PersonalAccessToken.objects.exists()


def test_someone_without_a_customer_is_told_why_they_cannot_create_one(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.get("/accounts/tokens/")
    assert "You belong to none yet" in response.content.decode()


def test_revoking_a_token(client: Client, acme: Customer) -> None:
    user = make_member(acme, Role.MEMBER)
    token, _ = make_token(user, acme)
    client.force_login(user)
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get("/accounts/tokens/").content.decode()


def test_someone_elses_token_is_a_404(client: Client, acme: Customer) -> None:
    owner, stranger = make_member(acme, Role.MEMBER), make_member(acme, Role.ADMIN)
    token, _ = make_token(owner, acme)
    client.force_login(stranger)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "Integration" not in client.get("/accounts/tokens/").content.decode()


def test_revoking_needs_post(client: Client, acme: Customer) -> None:
    user = make_member(acme, Role.MEMBER)
    token, _ = make_token(user, acme)
    client.force_login(user)
    assert client.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405


def test_a_person_who_must_use_two_factors_sets_them_up_first(
    client: Client, acme: Customer
) -> None:
    acme.require_mfa = True
    acme.save()
    client.force_login(make_member(acme, Role.MEMBER))
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
