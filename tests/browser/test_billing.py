"""A billing user pays an invoice by card in the browser and sees it paid without a reload.

At 1280 px a declined card comes first, then the test card; at 360 px the card's
bank asks for a 3-D Secure confirmation, which Stripe.js shows.

The card fields are localstripe's stand-in for Stripe.js (the page loads it
from the configured Stripe.js URL, as it loads Stripe's own in production).
"""

from __future__ import annotations

from typing import Any

import pytest

from portal.billing.models import Invoice, InvoiceStatus, Payment
from portal.billing.tests.factories import make_invoice
from portal.billing.tests.test_no_card_data import _database_text, card_numbers_in
from portal.core.tests.factories import TEST_PASSWORD
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from tests.localstripe import (  # noqa: F401 - fixtures
    localstripe_server,
    stripe_test,
    stripe_webhooks,
)

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def _sign_in(visit: Any, email: str) -> None:
    page = visit.page
    visit.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_url("**/dashboard/")


def _fill_card(page: Any, number: str) -> None:
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("30")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10115")


@pytest.mark.usefixtures("stripe_webhooks")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "360px"])
def test_a_billing_user_pays_an_invoice_and_sees_it_paid_without_reload(
    visit_factory: Any, viewport: dict[str, int]
) -> None:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.BILLING, email="bianca@acme.example")
    invoice = make_invoice(acme, amount_minor=100_00, tax_rate="19", description="Hosting")
    make_invoice(acme, amount_minor=25_00, description="Support")
    visit = visit_factory(viewport)
    page = visit.page
    width = viewport["width"]
    _sign_in(visit, "bianca@acme.example")
    visit.audit("billing-dashboard")

    page.get_by_role("link", name="Invoices", exact=True).first.click()
    page.wait_for_url("**/billing/invoices/")
    visit.audit("billing-invoices")
    visit.assert_fits_viewport()

    page.get_by_role("link", name=str(invoice.number)).click()
    page.wait_for_selector("body[data-live-state=connected]")
    page.wait_for_selector("#card-form:not([hidden]) #card-element input")
    status = page.get_by_test_id("invoice-status")
    assert status.inner_text() == "Open"
    visit.audit("billing-invoice-open")
    visit.assert_fits_viewport()

    page.evaluate("window.portalMarker = 'still the same page'")
    if width == DESKTOP["width"]:
        # A declined card first: a clear message, the invoice stays open.
        _fill_card(page, "4000000000000341")
        page.get_by_role("button", name="Pay EUR\u00a0119.00").click()
        page.get_by_role("alert").filter(has_text="Your card was declined.").wait_for(
            timeout=10_000
        )
        assert status.inner_text() == "Open"
        visit.audit("billing-invoice-declined")
        # Then the test card.
        _fill_card(page, "4242424242424242")
        page.get_by_role("button", name="Pay EUR\u00a0119.00").click()
    else:
        # A card whose bank wants a 3-D Secure confirmation, shown by Stripe.js.
        _fill_card(page, "4000002500003155")
        page.get_by_role("button", name="Pay EUR\u00a0119.00").click()
        page.get_by_role("button", name="Complete authentication").click(timeout=10_000)
    page.get_by_test_id("invoice-status").filter(has_text="Paid").wait_for(timeout=10_000)
    assert page.evaluate("window.portalMarker") == "still the same page"  # no reload
    assert page.locator("#card-form").count() == 0
    assert "has been paid" in page.locator("#live-announcer").inner_text()
    visit.audit("billing-invoice-paid")
    visit.assert_fits_viewport()

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice, status="succeeded").count() == 1

    page.locator("#invoice-payments").get_by_role("link", name="Receipt R-").click()
    page.wait_for_url("**/receipt/")
    visit.audit("billing-receipt")
    visit.assert_fits_viewport()
    visit.goto(f"/billing/invoices/{invoice.number}/print/")
    visit.audit("billing-invoice-print")
    if width == DESKTOP["width"]:
        page.emulate_media(media="print")
        assert page.locator(".site-header").is_hidden()
        assert page.locator("[data-print]").is_hidden()
        assert page.get_by_text("Hosting").is_visible()
        visit.screenshot("billing-invoice-print-media")
        page.emulate_media(media="screen")
    visit.goto("/billing/payments/")
    visit.audit("billing-payments")
    visit.assert_fits_viewport()

    # The list row changed too (it follows the same live topic).
    visit.goto("/billing/invoices/")
    row = page.locator(f"#invoice-row-{invoice.number}")
    assert "Paid" in row.inner_text()
    assert card_numbers_in(_database_text()) == []
    assert Invoice.objects.filter(status=InvoiceStatus.OPEN).count() == 1
