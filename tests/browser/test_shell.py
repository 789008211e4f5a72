"""First journey: the home page, the navigation and the layout at phone and desktop widths."""

from __future__ import annotations

from typing import Any

import pytest

from portal.core.tests.factories import TEST_PASSWORD, UserFactory

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1280px"])
def test_visitor_follows_the_navigation_and_signs_in_and_out(
    visit_factory: Any, viewport: dict[str, int]
) -> None:
    UserFactory(email="grace@example.com", first_name="Grace", last_name="Hopper")
    visit = visit_factory(viewport)
    page = visit.page

    visit.goto("/")
    visit.audit("home")
    visit.assert_fits_viewport()
    assert page.get_by_role("heading", level=1).inner_text() == "Your services, in one place"

    # The skip link is the first stop for a keyboard user and lands on the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/accounts/login/")
    visit.audit("sign-in")
    visit.assert_fits_viewport()

    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/dashboard/")
    visit.audit("dashboard")
    visit.assert_fits_viewport()
    assert page.get_by_test_id("current-user").inner_text() == "grace@example.com"
    assert "Hello, Grace Hopper" in page.get_by_role("heading", level=1).inner_text()

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Account").click()
    page.wait_for_url("**/accounts/profile/")
    visit.audit("account-profile")
    visit.assert_fits_viewport()

    nav.get_by_role("button", name="Sign out").click()
    page.wait_for_url(visit.base_url + "/")
    assert page.get_by_role("link", name="Sign in").first.is_visible()


def test_missing_page_is_friendly_and_accessible(visit_factory: Any) -> None:
    visit = visit_factory()
    response = visit.page.goto(visit.base_url + "/no/such/page/")
    assert response is not None and response.status == 404
    visit.audit("not-found")
    assert visit.page.get_by_role("heading", level=1).inner_text() == "Page not found"
