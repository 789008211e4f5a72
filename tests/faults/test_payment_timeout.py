"""The payment provider times out at the worst moment: after it charged the card.

A proxy in front of localstripe (the Stripe emulator) forwards the charge, so
the provider does take the money, and holds the answer back longer than the
portal waits. The portal must not mark anything paid on a guess, and neither
the customer's retry nor the SDK's own retry may charge the card again. (A
timeout while the payment is being *created* is covered in
portal/billing/tests/test_payments.py.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client

from portal.accounts.models import User
from portal.billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from portal.billing.tests.factories import make_invoice
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import LiveEvent
from tests.localstripe import SECRET_KEY, StallingProxy, StripeTest

pytestmark = pytest.mark.django_db

VISA = "4242424242424242"


@pytest.fixture
def billing_user() -> User:
    return make_member(make_customer("Acme Ltd"), Role.BILLING)


@pytest.fixture
def invoice(billing_user: User) -> Invoice:
    return make_invoice(billing_user.memberships.get().customer, amount_minor=100_00)


def _pay(client: Client, invoice: Invoice, token: str) -> Any:
    return client.post(f"/billing/invoices/{invoice.number}/pay/", {"token": token})


def _charges(stripe_test: StripeTest) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{stripe_test.server.url}/v1/charges",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    answer.raise_for_status()
    charges: list[dict[str, Any]] = answer.json()["data"]
    return charges


def test_a_charge_whose_answer_is_lost_is_not_marked_paid_and_a_retry_charges_nothing_more(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    # Generous for a loaded machine; the held answer comes far later.
    stripe_test.settings.PORTAL_STRIPE_TIMEOUT = 2.0
    client.force_login(billing_user)
    with StallingProxy(stripe_test.server.url, stall_seconds=8.0) as proxy:
        stripe_test.point_api_at(proxy.url)
        proxy.stall_confirms = 1
        first = _pay(client, invoice, stripe_test.card_token(VISA))
        assert first.status_code == 503
        assert "If your card was charged" in first.json()["message"]
        # The provider took the money; the portal does not know it yet and says
        # nothing it cannot know: no payment succeeded, the invoice is open.
        [charge] = _charges(stripe_test)
        assert charge["amount"] == 100_00 and charge["status"] == "succeeded"
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.OPEN and invoice.amount_paid_minor == 0
        assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()
        assert not LiveEvent.objects.filter(kind="invoice.updated", data__status="paid").exists()

        # The customer tries again (Stripe.js gives a new token for the card).
        retry = _pay(client, invoice, stripe_test.card_token(VISA))
        assert retry.status_code == 200 and retry.json()["status"] == "succeeded"

    # One charge, one payment, the invoice paid once.
    assert len(_charges(stripe_test)) == 1
    [intent] = stripe_test.intents()
    payment = Payment.objects.get(status=PaymentStatus.SUCCEEDED)
    assert payment.reference == intent.id and payment.amount_minor == 100_00
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 100_00


def test_the_sdks_own_retry_after_a_timeout_reuses_the_key_and_charges_once(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    # As in production: the SDK retries a request that timed out, with the same
    # idempotency key, which the provider (here the proxy, as Stripe does)
    # answers with the first answer instead of charging again.
    stripe_test.settings.PORTAL_STRIPE_TIMEOUT = 2.0
    stripe_test.settings.PORTAL_STRIPE_NETWORK_RETRIES = 2
    client.force_login(billing_user)
    with StallingProxy(stripe_test.server.url, stall_seconds=8.0) as proxy:
        stripe_test.point_api_at(proxy.url)
        proxy.stall_confirms = 1
        answer = _pay(client, invoice, stripe_test.card_token(VISA))
        assert answer.status_code == 200 and answer.json()["status"] == "succeeded"
    confirms = [key for method, path, key in proxy.requests if path.endswith("/confirm")]
    assert len(confirms) == 2 and confirms[0] == confirms[1] != ""
    assert len(_charges(stripe_test)) == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 100_00
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
