"""API tokens in the account pages, a token used against the API, and the offline reference."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from portal.core.tests.factories import TEST_PASSWORD
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.tokens.secret import TOKEN_PREFIX

from .conftest import PHONE

pytestmark = pytest.mark.browser


def _sign_in(visit: Any, email: str) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/dashboard/")


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280px", "360px"])
def test_create_use_and_revoke_a_token(visit_factory: Any, viewport: dict[str, int] | None) -> None:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.MEMBER, email="tokens@example.com")
    visit = visit_factory(viewport) if viewport else visit_factory()
    page = visit.page
    _sign_in(visit, "tokens@example.com")
    visit.goto("/accounts/profile/")
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/accounts/tokens/")
    visit.audit("api-tokens-empty")

    page.get_by_label("Name").fill("ERP sync")
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label("Token", exact=True)
    secret = field.input_value()
    assert re.fullmatch(rf"{TOKEN_PREFIX}[A-Za-z0-9]{{40}}", secret)
    assert page.content().count(secret) == 1
    visit.audit("api-tokens-created")
    visit.assert_fits_viewport()

    # The token works against the API, read-only.
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=visit.base_url, headers=headers) as api:
        assert api.get("/api/v1/me").json()["email"] == "tokens@example.com"
        assert api.patch("/api/v1/me", json={"city": "Bern"}).status_code == 403

        # Shown once: after a reload of the list it is gone.
        visit.goto("/accounts/tokens/")
        assert secret not in page.content()
        row = page.get_by_test_id("token-row")
        assert "ERP sync" in row.inner_text() and secret[:11] in row.inner_text()

        page.get_by_role("button", name=re.compile("Revoke")).click()
        page.wait_for_url("**/accounts/tokens/")
        assert "Revoked" in page.get_by_test_id("token-row").inner_text()
        assert api.get("/api/v1/me").status_code == 401
    visit.audit("api-tokens-revoked")


def test_the_api_reference_works_offline_under_the_csp(visit_factory: Any) -> None:
    visit = visit_factory()
    page = visit.page
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((visit.base_url, "data:"))
            else None
        ),
    )
    visit.goto("/api/v1/docs")
    # Swagger UI builds the page from the document; slow on a busy 2-core machine.
    page.get_by_text("/api/v1/notifications/{notification_id}/read").first.wait_for(timeout=30000)
    page.get_by_text("Customer Portal API").first.wait_for()
    visit.screenshot("api-reference")
    assert not visit.csp_violations, visit.csp_violations
    assert not outside, outside
