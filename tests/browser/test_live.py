"""A signed-in page follows changes without a reload: the bell and a live region."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.live.services import notification_send

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
def test_a_notification_appears_without_reload(
    visit_factory: Any, viewport: dict[str, int] | None
) -> None:
    user = UserFactory(email="live@example.com")
    visit = visit_factory(viewport) if viewport else visit_factory()
    page = visit.page
    _sign_in(visit, "live@example.com")
    visit.goto("/notifications/")
    page.wait_for_selector("body[data-live-state=connected]")
    visit.audit("notifications-empty")
    badge = page.locator("[data-live-unread]")
    assert badge.is_hidden()
    page.evaluate("window.portalMarker = 'still the same page'")

    with transaction.atomic():
        notification_send(user=user, kind="service_request", title="SR-2026-000042 is resolved")

    page.get_by_text("SR-2026-000042 is resolved").wait_for(timeout=3000)
    assert badge.inner_text() == "1"
    assert page.evaluate("window.portalMarker") == "still the same page"  # no reload
    visit.audit("notifications-arrived")
    visit.assert_fits_viewport()

    page.get_by_role("button", name="Mark all as read").click()
    page.wait_for_url("**/notifications/")
    assert page.locator("[data-live-unread]").is_hidden()
