from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory
from django.urls import reverse

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(
    client: Client, django_assert_num_queries: object
) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_a_working_database(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_readyz_answers_503_when_the_database_fails(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connections

    def broken_cursor(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


def test_home_page_invites_anonymous_visitors_to_sign_in(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/accounts/login/"' in body
    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body


def test_home_sends_signed_in_people_to_their_dashboard(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:dashboard")


def test_dashboard_needs_sign_in(client: Client) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/dashboard/")


def test_dashboard_shows_the_signed_in_user_and_is_not_cached(client: Client) -> None:
    user = UserFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hello, Ada Lovelace" in body
    assert 'data-testid="current-user">ada@example.com<' in body
    # Sign-out is a POST form, never a link.
    assert 'action="/accounts/logout/"' in body and 'method="post"' in body
    assert "no-store" in response["Cache-Control"]


def test_every_page_carries_the_security_headers(client: Client) -> None:
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_pages_have_no_inline_script_or_style(client: Client) -> None:
    client.force_login(UserFactory())
    for url in ("/dashboard/", "/accounts/login/", "/does-not-exist/"):
        body = client.get(url, follow=True).content.decode()
        assert "<style" not in body, url
        assert " style=" not in body, url
        assert "<script>" not in body, url


def test_unknown_page_is_a_friendly_404(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "Content-Security-Policy" in response.headers


def test_a_form_without_csrf_token_gets_a_friendly_403() -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/accounts/login/", {"login": "x", "password": "y"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_permission_denied_is_a_friendly_403() -> None:
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = RequestFactory().get("/somewhere/")
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "Access denied" in response.content.decode()


def test_server_error_page_shows_no_traceback(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.core import views

    def explode(request: object) -> str:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(views, "dashboard_cards_html", explode)
    client.force_login(UserFactory())
    client.raise_request_exception = False
    response = client.get("/dashboard/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "secret internal detail" not in body
    assert "Traceback" not in body


@pytest.mark.django_db
def test_a_signed_in_page_costs_few_queries_and_no_session_write(
    client: Client, django_assert_num_queries: Any
) -> None:
    from portal.core.fragments import versions_bump
    from portal.customers.roles import Role
    from portal.customers.tests.factories import make_customer, make_member

    customer = make_customer()
    admin = make_member(customer, Role.ADMIN)
    client.force_login(admin)
    client.get("/dashboard/")  # the first view of a session records it
    # Served again from the cache, the session and the user too: no query at all.
    with django_assert_num_queries(0):
        assert client.get("/dashboard/").status_code == 200
    # After a change it is built again: the user, memberships, the unread count and
    # one query per card (the service requests' counts as one aggregate, documents
    # shared with us, the invoices' amount due).
    versions_bump(customers=[customer.pk], users=[admin.pk])
    with django_assert_num_queries(6):
        assert client.get("/dashboard/").status_code == 200
