"""Journey: "Sign in with <provider>" through the provider's page to the dashboard and out again.

The provider is oidc-provider-mock on a loopback port (tests/oidc_provider.py).
Its pages are not the portal's: they get screenshots but no axe audit, and
the browser may reach nothing but 127.0.0.1 (the mock's page links a
stylesheet on a CDN, which is refused here).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.oidc_provider import LocalOIDCProvider

pytestmark = pytest.mark.browser


def _loopback_only(route: Any) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def test_sign_in_with_the_provider_and_sign_out_of_both(
    visit_factory: Any, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user(
        "grace-browser",
        email="grace@example.com",
        email_verified=True,
        given_name="Grace",
        family_name="Hopper",
    )
    visit = visit_factory()
    page = visit.page
    page.context.route("**/*", _loopback_only)

    visit.goto("/accounts/login/")
    visit.audit("sign-in-with-provider")
    page.get_by_role("button", name="Sign in with Test IdP").click()
    page.wait_for_url(oidc.url + "/oauth2/authorize?**")
    # The provider's own page: not ours, so no axe audit.
    visit.screenshot("oidc-provider-authorize")
    page.locator("input[name=sub]").fill("grace-browser")
    page.get_by_role("button", name="Authorize").click()

    page.wait_for_url("**/dashboard/")
    visit.audit("dashboard-after-provider-sign-in")
    assert page.get_by_test_id("current-user").inner_text() == "grace@example.com"
    assert "Hello, Grace Hopper" in page.get_by_role("heading", level=1).inner_text()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.get_by_role("navigation", name="Your account").get_by_role(
        "link", name="Sign-in providers"
    ).click()
    page.wait_for_url("**/accounts/3rdparty/")
    visit.audit("sign-in-providers")
    assert page.get_by_text("Test IdP (grace@example.com)").is_visible()

    # Signing out here also ends the session at the provider, which sends the
    # browser back to the portal's home page.
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(oidc.url + "/oauth2/end_session?**")
    visit.screenshot("oidc-provider-end-session")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(visit.base_url + "/")
    visit.audit("home-after-provider-sign-out")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").count()


def test_a_failed_provider_sign_in_explains_itself(
    visit_factory: Any, oidc: LocalOIDCProvider
) -> None:
    visit = visit_factory()
    page = visit.page
    page.context.route("**/*", _loopback_only)
    page.goto(visit.base_url + "/accounts/oidc/test-idp/login/callback/?code=x&state=forged")
    assert page.get_by_role("heading", name="Sign-in did not work").is_visible()
    visit.audit("provider-sign-in-failed")
    page.get_by_role("main").get_by_role("button", name="Back to sign-in").click()
    page.wait_for_url("**/accounts/login/")


def test_a_provider_without_an_address_leads_to_a_short_sign_up(
    visit_factory: Any, oidc: LocalOIDCProvider
) -> None:
    oidc.set_user("no-mail-browser", name="No Mail")
    visit = visit_factory()
    page = visit.page
    page.context.route("**/*", _loopback_only)
    visit.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with Test IdP").click()
    page.wait_for_url(oidc.url + "/oauth2/authorize?**")
    page.locator("input[name=sub]").fill("no-mail-browser")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/accounts/3rdparty/signup/")
    visit.audit("provider-sign-up")
    page.get_by_label("Email").fill("no-mail@example.com")
    page.get_by_role("main").get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/confirm-email/")
    visit.audit("provider-sign-up-verify-email")
