"""Stripe's signed notifications, from a live localstripe and delivered by the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.test import Client

from portal.billing import services
from portal.billing.models import (
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ProcessedEvent,
    Refund,
)
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import LiveEvent, Notification
from tests.localstripe import WEBHOOK_PATH, StripeTest
from tests.server import PortalServer

from .factories import make_invoice

WAIT = 10.0  # localstripe sends a webhook about a second after the event


def _eventually(check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _started(stripe_test: StripeTest) -> tuple[Invoice, Payment]:
    acme = make_customer("Acme Ltd")
    make_member(acme, Role.BILLING)
    invoice = make_invoice(acme, amount_minor=80_00)
    payment = services.payment_start(invoice=invoice, user=None)
    return invoice, payment


def _paid(invoice: Invoice) -> bool:
    invoice.refresh_from_db()
    return invoice.status == InvoiceStatus.PAID


@pytest.mark.django_db(transaction=True)
def test_localstripes_own_webhook_settles_a_payment_made_in_the_browser(
    stripe_webhooks: StripeTest,
) -> None:
    invoice, payment = _started(stripe_webhooks)
    # The card holder confirms in the browser (3-D Secure, say): the portal only hears
    # of it through the provider's signed notification.
    stripe_webhooks.confirm_at_provider(payment.reference)
    _eventually(lambda: _paid(invoice))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    processed = ProcessedEvent.objects.get()
    assert processed.type == "payment_intent.succeeded" and processed.payment_id == payment.pk


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_twice_and_at_once_settles_once(
    stripe_test: StripeTest, portal_server: PortalServer
) -> None:
    invoice, payment = _started(stripe_test)
    stripe_test.confirm_at_provider(payment.reference)
    [event] = stripe_test.events("payment_intent.succeeded")
    body, headers = stripe_test.signed(event)
    url = portal_server.url + WEBHOOK_PATH
    answers: list[int] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        answers.append(httpx.post(url, content=body, headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    answers.append(httpx.post(url, content=body, headers=headers, timeout=30).status_code)
    assert answers == [200, 200, 200, 200]

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 80_00
    assert ProcessedEvent.objects.count() == 1
    assert LiveEvent.objects.filter(kind="invoice.updated", data__status="paid").count() == 1
    assert Notification.objects.filter(title__startswith="Payment received").count() == 1


@pytest.mark.django_db
def test_a_bad_or_stale_signature_is_refused(client: Client, stripe_test: StripeTest) -> None:
    invoice, payment = _started(stripe_test)
    stripe_test.confirm_at_provider(payment.reference)
    [event] = stripe_test.events("payment_intent.succeeded")
    body, headers = stripe_test.signed(event)
    assert b'"amount": 8000' in body
    signature = headers["Stripe-Signature"]
    faults = {
        "tampered": (body.replace(b'"amount": 8000', b'"amount": 1'), signature),
        "wrong secret": (
            body,
            stripe_test.signed(event, secret="whsec_someone_else")[1]["Stripe-Signature"],
        ),
        "stale": (
            body,
            stripe_test.signed(event, timestamp=int(time.time()) - 301)[1]["Stripe-Signature"],
        ),
        "unsigned": (body, ""),
        "not json": (b"not json", signature),
    }
    for fault, (content, stripe_signature) in faults.items():
        extra = {"Stripe-Signature": stripe_signature} if stripe_signature else {}
        response = client.post(
            WEBHOOK_PATH, content, content_type="application/json", headers=extra
        )
        assert response.status_code == 400, fault
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert not ProcessedEvent.objects.exists()
    # The genuine one is accepted.
    response = client.post(
        WEBHOOK_PATH, body, content_type="application/json", headers={"Stripe-Signature": signature}
    )
    assert response.status_code == 200 and _paid(invoice)


@pytest.mark.django_db
def test_events_in_reverse_order_end_in_the_right_state(
    client: Client, stripe_test: StripeTest
) -> None:
    invoice, payment = _started(stripe_test)
    stripe_test.confirm_at_provider(payment.reference)
    # Refunded at the provider directly (in Stripe's dashboard, say).
    stripe_test.api.v1.refunds.create(params={"payment_intent": payment.reference})
    intent = stripe_test.api.v1.payment_intents.retrieve(payment.reference).to_dict()
    charge = intent["latest_charge"]
    older_failure = {**intent, "status": "requires_payment_method"}
    # Newest first: the refund, then the success, then an older failure.
    for event in (
        stripe_test.event("charge.refunded", charge),
        stripe_test.event("payment_intent.succeeded", intent),
        stripe_test.event("payment_intent.payment_failed", older_failure),
    ):
        body, headers = stripe_test.signed(event)
        response = client.post(
            WEBHOOK_PATH,
            body,
            content_type="application/json",
            headers={"Stripe-Signature": headers["Stripe-Signature"]},
        )
        assert response.status_code == 200
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.REFUNDED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = Refund.objects.get()
    assert refund.external and refund.amount_minor == 80_00
    assert (invoice.amount_paid_minor, invoice.amount_refunded_minor) == (80_00, 80_00)
    assert ProcessedEvent.objects.count() == 3


@pytest.mark.django_db
def test_events_about_payments_we_do_not_know_are_acknowledged(
    client: Client, stripe_test: StripeTest
) -> None:
    event = stripe_test.event(
        "payment_intent.succeeded", {"object": "payment_intent", "id": "pi_someoneelses"}
    )
    body, headers = stripe_test.signed(event)
    response = client.post(
        WEBHOOK_PATH, body, content_type="application/json",
        headers={"Stripe-Signature": headers["Stripe-Signature"]},
    )  # fmt: skip
    assert response.status_code == 200
    assert not ProcessedEvent.objects.exists()
    assert client.get(WEBHOOK_PATH).status_code == 405


@pytest.mark.django_db
def test_a_webhook_while_the_provider_is_down_is_asked_for_again(
    client: Client, stripe_test: StripeTest
) -> None:
    invoice, payment = _started(stripe_test)
    stripe_test.confirm_at_provider(payment.reference)
    [event] = stripe_test.events("payment_intent.succeeded")
    body, headers = stripe_test.signed(event)
    stripe_test.point_api_at("http://127.0.0.1:9")
    kwargs: dict[str, Any] = {
        "content_type": "application/json",
        "headers": {"Stripe-Signature": headers["Stripe-Signature"]},
    }
    assert client.post(WEBHOOK_PATH, body, **kwargs).status_code == 503
    assert not ProcessedEvent.objects.exists()
    stripe_test.point_api_at(stripe_test.server.url)
    assert client.post(WEBHOOK_PATH, body, **kwargs).status_code == 200
    assert _paid(invoice)
