"""Help pages in the browser: the index, the About page (the seed record), suggestions, search."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from portal.content import services
from portal.content.tests.factories import copy_seed, page_text, write_page
from portal.core.tests.factories import TEST_PASSWORD, UserFactory

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _shipped_content(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's own content/, synced by the portal on the first request."""
    settings.PORTAL_CONTENT_CHECK_INTERVAL = 0
    monkeypatch.setattr(services, "_next_check", 0.0)


def test_visitor_reads_help_follows_links_and_searches(visit_factory: Any) -> None:
    visit = visit_factory(DESKTOP)
    page = visit.page

    visit.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Help").click()
    page.wait_for_url("**/pages/")
    visit.audit("help-index")
    visit.assert_fits_viewport()
    assert page.get_by_role("heading", level=1).inner_text() == "Help and information"

    # The About page is the system's own record.
    page.locator("#main").get_by_role("link", name="Customer Portal").click()
    page.wait_for_url("**/pages/app-comp-001-customer-portal/")
    visit.audit("help-about")
    visit.assert_fits_viewport()
    assert page.get_by_role("heading", level=1).inner_text() == "Customer Portal"

    # "www.google.com" must still go to Google: checked, not followed (no internet here).
    google = page.locator(".content-body").get_by_role("link", name=re.compile("^google"))
    assert google.get_attribute("href") == "https://www.google.com"
    assert google.get_attribute("rel") == "noopener noreferrer"
    assert "(external site)" in google.inner_text()
    # The two documents nobody has published are text, not dead links.
    unpublished = page.locator(".content-body .link-unpublished")
    assert unpublished.count() == 2
    assert "not published" in unpublished.first.inner_text()
    assert page.locator(".content-body a", has_text="cloud strategy").count() == 0
    facts = page.get_by_role("complementary")
    assert "IT Department" in facts.inner_text()
    # The glossary is published: its relationship is a link.
    page.locator(".related").get_by_role("link", name="Glossary").click()
    page.wait_for_url("**/pages/glossary-customer/")
    assert page.get_by_role("navigation", name="On this page").is_visible()

    # Suggestions while typing, then a full search.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Help").click()
    page.wait_for_url("**/pages/")
    search = page.get_by_label("Search the help pages")
    search.press_sequentially("invoi", delay=30)
    suggestion = page.locator("#help-search-suggestions").get_by_role(
        "link", name="Paying invoices"
    )
    suggestion.wait_for()
    visit.audit("help-suggestions")

    search.press("Enter")
    page.wait_for_url("**/pages/search/?q=invoi")
    visit.audit("help-search")
    visit.assert_fits_viewport()
    results = page.locator(".search-results h2")
    assert results.first.inner_text() == "Paying invoices"  # the title match first
    assert page.locator(".search-results mark").count() > 0
    results.first.get_by_role("link").click()
    page.wait_for_url("**/pages/help-paying-invoices/")
    visit.audit("help-paying-invoices")


def test_help_pages_fit_a_phone(visit_factory: Any) -> None:
    visit = visit_factory(PHONE)
    for name, path in [
        ("help-index", "/pages/"),
        ("help-about", "/pages/app-comp-001-customer-portal/"),
        # A table scrolls by itself on a phone, not the whole page.
        ("help-submit-request", "/pages/help-submit-request/"),
        ("help-search", "/pages/search/?q=invoices"),
    ]:
        visit.goto(path)
        visit.audit(name)
        visit.assert_fits_viewport()
    assert visit.page.locator(".search-results li").count() > 0


def test_staff_see_drafts_overdue_reviews_and_broken_files(
    visit_factory: Any, settings: Any, tmp_path: Path
) -> None:
    copy_seed(tmp_path)
    write_page(tmp_path, "draft-notes", name="Draft notes", status="draft", tags=["help"])
    write_page(tmp_path, "old-page", name="Old page", next_review="2020-01-01", tags=["help"])
    (tmp_path / "broken.md").write_text(page_text("broken").replace("owner: Test Team\n", ""))
    settings.PORTAL_CONTENT_DIR = tmp_path
    UserFactory(email="sam@portal.example", is_staff=True)
    visit = visit_factory()
    page = visit.page

    visit.goto("/accounts/login/?next=/pages/")
    page.get_by_label("Email").fill("sam@portal.example")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/pages/")
    visit.audit("help-index-staff")
    problems = page.locator("#problems-heading + p + ul")
    assert "broken.md:2" in problems.inner_text()
    assert "owner: is required" in problems.inner_text()
    assert page.locator(".badge-draft").inner_text() == "Draft"
    assert page.locator(".badge-overdue").count() == 1

    page.get_by_role("link", name="Old page").click()
    page.wait_for_url("**/pages/old-page/")
    visit.audit("help-page-staff")
    assert page.get_by_test_id("review-overdue").is_visible()
