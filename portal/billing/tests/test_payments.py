"""Paying an invoice by card against a live localstripe (the Stripe emulator)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from portal.accounts.models import User
from portal.billing import services
from portal.billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import LiveEvent, Notification
from tests.localstripe import PUBLISHABLE_KEY, StallingProxy, StripeTest
from tests.server import free_port

from .factories import make_invoice

pytestmark = pytest.mark.django_db

VISA = "4242424242424242"
DECLINED = "4000000000000341"
THREE_D_SECURE = "4000002500003155"


@pytest.fixture
def acme() -> Customer:
    return make_customer("Acme Ltd")


@pytest.fixture
def billing_user(acme: Customer) -> User:
    return make_member(acme, Role.BILLING)


@pytest.fixture
def invoice(acme: Customer) -> Invoice:
    return make_invoice(acme, amount_minor=100_00, tax_rate="19")


def _pay(client: Client, invoice: Invoice, token: str) -> Any:
    return client.post(f"/billing/invoices/{invoice.number}/pay/", {"token": token})


def test_paying_with_the_test_card(
    client: Client,
    stripe_test: StripeTest,
    billing_user: User,
    invoice: Invoice,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(billing_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _pay(client, invoice, stripe_test.card_token(VISA))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 119_00
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.card_last4 == "4242"
    # The provider holds exactly one payment for the amount, and it went through.
    [intent] = stripe_test.intents()
    assert (intent.id, intent.amount, intent.status) == (payment.reference, 119_00, "succeeded")
    assert intent.metadata["portal_payment"] == str(payment.public_id)
    # The customer's open pages and inbox hear of it; the receipt is linked.
    event = LiveEvent.objects.filter(kind="invoice.updated").latest("id")
    assert event.data["status"] == "paid" and "has been paid" in event.data["announce"]
    note = Notification.objects.get(user=billing_user, title__startswith="Payment received")
    assert note.url == f"/billing/payments/{payment.pk}/receipt/"
    assert any("EUR\u00a0119.00" in m.body for m in mail.outbox if m.to == [billing_user.email])
    assert client.get(note.url).status_code == 200


def test_a_declined_card_leaves_the_invoice_open_and_another_card_can_pay(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    client.force_login(billing_user)
    response = _pay(client, invoice, stripe_test.card_token(DECLINED))
    assert response.status_code == 200
    assert response.json() == {
        "status": "declined",
        "message": "Your card was declined.",
        "sync_url": response.json()["sync_url"],
    }
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.amount_paid_minor == 0
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.FAILED
    assert not LiveEvent.objects.filter(data__status="paid").exists()

    response = _pay(client, invoice, stripe_test.card_token(VISA))
    assert response.json()["status"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    statuses = sorted(Payment.objects.filter(invoice=invoice).values_list("status", flat=True))
    assert statuses == ["failed", "succeeded"]
    # The detail page lists the declined attempt with the bank's reason.
    assert (
        "Your card was declined."
        in client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    )


def test_three_d_secure_is_confirmed_in_the_browser_then_settled(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    client.force_login(billing_user)
    answer = _pay(client, invoice, stripe_test.card_token(THREE_D_SECURE)).json()
    assert answer["status"] == "requires_action" and answer["client_secret"]
    assert "confirm" in answer["message"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    # What Stripe.js does when the card holder completes the bank's check:
    reference = answer["client_secret"].split("_secret_")[0]
    httpx.post(
        f"{stripe_test.server.url}/v1/payment_intents/{reference}/_authenticate?success=true",
        json={"key": PUBLISHABLE_KEY, "client_secret": answer["client_secret"]},
    ).raise_for_status()
    settled = client.post(answer["sync_url"]).json()
    assert settled["status"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_failed_bank_check_can_be_retried_with_another_card(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    client.force_login(billing_user)
    answer = _pay(client, invoice, stripe_test.card_token(THREE_D_SECURE)).json()
    # Another card while the bank's check is open: finish (or fail) that check first.
    again = _pay(client, invoice, stripe_test.card_token(VISA)).json()
    assert again["status"] == "requires_action"
    assert again["client_secret"] == answer["client_secret"]
    reference = answer["client_secret"].split("_secret_")[0]
    httpx.post(
        f"{stripe_test.server.url}/v1/payment_intents/{reference}/_authenticate?success=false",
        json={"key": PUBLISHABLE_KEY, "client_secret": answer["client_secret"]},
    ).raise_for_status()
    settled = client.post(answer["sync_url"]).json()
    assert settled["status"] == "pending" and "authentication" in settled["message"]
    assert _pay(client, invoice, stripe_test.card_token(VISA)).json()["status"] == "succeeded"
    assert len(stripe_test.intents()) == 1  # the same payment, now with a card that worked


def test_provider_down_fails_closed(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    token = stripe_test.card_token(VISA)
    stripe_test.point_api_at(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    client.force_login(billing_user)
    response = _pay(client, invoice, token)
    assert response.status_code == 503
    assert "did not answer" in response.json()["message"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.amount_paid_minor == 0
    payment = Payment.objects.get(invoice=invoice)
    assert payment.reference == "" and payment.status == PaymentStatus.STARTED
    assert not stripe_test.intents()
    assert not LiveEvent.objects.filter(data__status="paid").exists()


def test_a_timeout_then_a_retry_creates_one_payment_at_the_provider(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    # Generous enough for a loaded machine; the held-back answer comes far later.
    stripe_test.settings.PORTAL_STRIPE_TIMEOUT = 2.0
    client.force_login(billing_user)
    with StallingProxy(stripe_test.server.url, stall_seconds=6.0) as proxy:
        stripe_test.point_api_at(proxy.url)
        proxy.stall_creates = 1
        first = _pay(client, invoice, stripe_test.card_token(VISA))
        assert first.status_code == 503
        assert "Nothing has been charged" in first.json()["message"]
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.OPEN
        # The provider did create it; only its answer was lost.
        assert len(stripe_test.intents()) == 1

        retry = _pay(client, invoice, stripe_test.card_token(VISA))
        assert retry.json()["status"] == "succeeded"
    creates = [key for method, path, key in proxy.requests if path == "/v1/payment_intents"]
    payment = Payment.objects.get(invoice=invoice)
    assert creates == [payment.idempotency_key, payment.idempotency_key]
    [intent] = stripe_test.intents()
    assert intent.id == payment.reference and intent.status == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 119_00


@pytest.mark.django_db(transaction=True)
def test_two_pay_clicks_at_once_make_one_payment(stripe_test: StripeTest, invoice: Invoice) -> None:
    results: list[Payment] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        try:
            barrier.wait()
            results.append(services.payment_start(invoice=invoice, user=None))
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2 and results[0].pk == results[1].pk
    assert results[0].reference == results[1].reference != ""
    assert len(stripe_test.intents()) == 1
    assert Payment.objects.count() == 1


def test_a_payment_the_provider_forgot_is_started_afresh(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice
) -> None:
    services.payment_start(invoice=invoice, user=billing_user)
    stripe_test.server.clear()  # e.g. the emulator restarted
    client.force_login(billing_user)
    assert _pay(client, invoice, stripe_test.card_token(VISA)).json()["status"] == "succeeded"
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["canceled", "succeeded"]


def test_bad_tokens_and_closed_invoices_are_refused(
    client: Client, stripe_test: StripeTest, billing_user: User, invoice: Invoice, acme: Customer
) -> None:
    client.force_login(billing_user)
    assert _pay(client, invoice, "4242424242424242").status_code == 400
    assert _pay(client, invoice, "tok_doesnotexist123").json()["status"] == "declined"
    services.invoice_void(invoice=invoice, actor=None)
    response = _pay(client, invoice, stripe_test.card_token(VISA))
    assert response.status_code == 409
    assert "not open for payment" in response.json()["message"]
    assert all(p.status != PaymentStatus.SUCCEEDED for p in Payment.objects.all())


def test_without_stripe_keys_card_payment_is_switched_off(
    client: Client, settings: Any, billing_user: User, invoice: Invoice
) -> None:
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(billing_user)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "Card payment is not available" in page
    assert "card-form" not in page
    response = _pay(client, invoice, "tok_whatever123456")
    assert response.status_code == 409
    assert "not available" in response.json()["message"]


def test_card_attempts_are_limited_per_person(
    client: Client,
    stripe_test: StripeTest,
    billing_user: User,
    invoice: Invoice,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from portal.billing import views

    monkeypatch.setattr(views, "PAY_ATTEMPTS", 2)
    client.force_login(billing_user)
    for _ in range(2):
        assert _pay(client, invoice, "tok_stolencard123").json()["status"] == "declined"
    response = _pay(client, invoice, stripe_test.card_token(VISA))
    assert response.status_code == 429 and "Too many" in response.json()["message"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
