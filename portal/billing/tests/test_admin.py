"""The back office: staff draft, issue, void, record payments and refund through the services."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from portal.accounts.models import User
from portal.billing import services
from portal.billing.models import Invoice, InvoiceStatus, Refund, RefundStatus
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import LiveEvent, Notification
from tests.localstripe import StripeTest
from tests.server import free_port

from .factories import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> User:
    user: User = UserFactory(is_staff=True, is_superuser=True)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    return user


@pytest.fixture
def acme() -> Customer:
    customer = make_customer("Acme Ltd")
    make_member(customer, Role.BILLING)
    return customer


def test_staff_draft_and_issue_an_invoice(client: Client, staff: User, acme: Customer) -> None:
    client.force_login(staff)
    response = client.post(
        "/backoffice/billing/invoice/add/",
        {
            "customer": acme.pk,
            "currency": "EUR",
            "notes": "Thank you for your business.",
            "lines-TOTAL_FORMS": "2",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-position": "1",
            "lines-0-description": "Consulting",
            "lines-0-quantity": "2",
            "lines-0-unit_price": "150.00",
            "lines-0-tax_rate": "19",
            "lines-1-position": "2",
            "lines-1-description": "Travel",
            "lines-1-quantity": "1",
            "lines-1-unit_price": "42.50",
            "lines-1-tax_rate": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.DRAFT and invoice.created_by == staff
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (
        342_50,
        57_00,
        399_50,
    )
    response = client.post(
        "/backoffice/billing/invoice/",
        {"action": "issue_selected", "_selected_action": [invoice.pk]},
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.number
    assert AuditEvent.objects.filter(action=AuditAction.INVOICE_ISSUED, actor=staff).exists()
    # An issued invoice is a record: read-only in the back office.
    page = client.get(f"/backoffice/billing/invoice/{invoice.pk}/change/").content.decode()
    assert 'name="notes"' not in page and "Record a payment" in page
    assert client.post(f"/backoffice/billing/invoice/{invoice.pk}/delete/").status_code == 403


def test_staff_void_and_record_a_bank_transfer(client: Client, staff: User, acme: Customer) -> None:
    client.force_login(staff)
    to_void, to_pay = make_invoice(acme), make_invoice(acme)
    client.post(
        "/backoffice/billing/invoice/",
        {"action": "void_selected", "_selected_action": [to_void.pk]},
    )
    to_void.refresh_from_db()
    assert to_void.status == InvoiceStatus.VOID
    url = f"/backoffice/billing/invoice/{to_pay.pk}/record-payment/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"note": "Transfer ref 42"}).status_code == 302
    to_pay.refresh_from_db()
    assert to_pay.status == InvoiceStatus.PAID
    assert to_pay.payments.get().note == "Transfer ref 42"


def test_a_refund_through_stripe_updates_the_invoice(
    client: Client, staff: User, acme: Customer, stripe_test: StripeTest
) -> None:
    invoice = make_invoice(acme, amount_minor=100_00)
    billing = acme.memberships.get().user
    outcome = services.payment_pay_with_card(
        invoice=invoice, user=billing, card_token=stripe_test.card_token()
    )
    assert outcome.status == "succeeded"
    client.force_login(staff)
    url = f"/backoffice/billing/invoice/{invoice.pk}/refund/"
    assert "Paid EUR" in client.get(url).content.decode()

    response = client.post(url, {"amount": "30.00", "reason": "Goodwill"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_REFUNDED
    assert invoice.amount_refunded_minor == 30_00
    charge: Any = stripe_test.api.v1.payment_intents.retrieve(
        outcome.payment.reference, params={"expand": ["latest_charge"]}
    ).latest_charge
    assert charge.amount_refunded == 30_00

    response = client.post(url, {"amount": "80.00"})
    assert response.status_code == 200 and "at most EUR" in response.content.decode()
    assert client.post(url, {"amount": "70.00"}).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED and invoice.amount_refunded_minor == 100_00
    refunds = Refund.objects.filter(invoice=invoice)
    assert {r.status for r in refunds} == {RefundStatus.SUCCEEDED}
    assert all(r.reference.startswith("re_") and not r.external for r in refunds)
    statuses = list(
        LiveEvent.objects.filter(kind="invoice.updated").values_list("data__status", flat=True)
    )
    assert statuses[-2:] == ["partially_refunded", "refunded"]
    assert Notification.objects.filter(user=billing, title__startswith="Refund of").count() == 2
    # The customer's invoice page shows it.
    client.force_login(billing)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "Refunded" in page and "EUR\u00a070.00 refunded on" in page


def test_a_refund_while_stripe_is_down_can_be_sent_again(
    client: Client, staff: User, acme: Customer, stripe_test: StripeTest
) -> None:
    invoice = make_invoice(acme, amount_minor=40_00)
    services.payment_pay_with_card(invoice=invoice, user=None, card_token=stripe_test.card_token())
    stripe_test.point_api_at(f"http://127.0.0.1:{free_port()}")
    client.force_login(staff)
    response = client.post(f"/backoffice/billing/invoice/{invoice.pk}/refund/", {"amount": "40"})
    assert "recorded as requested" in response.content.decode()
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.REQUESTED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    # Nothing more can be refunded while it is on its way.
    with pytest.raises(services.BillingError):
        services.refund_issue(invoice=invoice, amount_minor=1, actor=staff)

    stripe_test.point_api_at(stripe_test.server.url)
    client.post(
        "/backoffice/billing/refund/", {"action": "send_again", "_selected_action": [refund.pk]}
    )
    refund.refresh_from_db()
    invoice.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and invoice.status == InvoiceStatus.REFUNDED
    assert len(stripe_test.api.v1.refunds.list().data) == 1


def test_payments_and_refunds_cannot_be_edited_in_the_back_office(
    client: Client, staff: User, acme: Customer
) -> None:
    invoice = make_invoice(acme)
    payment = services.payment_record_manual(invoice=invoice, actor=staff)
    client.force_login(staff)
    assert client.get("/backoffice/billing/payment/").status_code == 200
    page = client.get(f"/backoffice/billing/payment/{payment.pk}/change/").content.decode()
    assert "client_secret" not in page
    assert client.get("/backoffice/billing/payment/add/").status_code == 403
    assert client.post(f"/backoffice/billing/payment/{payment.pk}/delete/").status_code == 403
    assert client.get("/backoffice/billing/refund/add/").status_code == 403


def test_staff_who_may_only_look_cannot_move_money(client: Client, acme: Customer) -> None:
    from django.contrib.auth.models import Permission

    viewer: User = UserFactory(is_staff=True)
    Authenticator.objects.create(user=viewer, type=Authenticator.Type.TOTP, data={"secret": "x"})
    viewer.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    invoice = make_invoice(acme)
    paid = make_invoice(acme)
    services.payment_record_manual(invoice=paid, actor=None)
    client.force_login(viewer)
    assert client.get(f"/backoffice/billing/invoice/{invoice.pk}/change/").status_code == 200
    assert (
        client.post(f"/backoffice/billing/invoice/{paid.pk}/refund/", {"amount": "1"}).status_code
        == 403
    )
    record = f"/backoffice/billing/invoice/{invoice.pk}/record-payment/"
    assert client.post(record, {"note": "x"}).status_code == 403
    invoice.refresh_from_db()
    paid.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and paid.status == InvoiceStatus.PAID
