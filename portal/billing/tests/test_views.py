"""Who may open which billing page, and what the pages show. Every route has an access rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone

from portal.accounts.models import User
from portal.billing import services
from portal.billing.models import Invoice, InvoiceLine, Payment
from portal.core.fragments import versions_bump
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from tests.localstripe import StripeTest

from .factories import make_invoice

pytestmark = pytest.mark.django_db


@dataclass
class World:
    acme: Customer
    globex: Customer
    admin: User
    member: User
    billing: User
    outsider: User
    invoice: Invoice
    payment: Payment
    other_invoice: Invoice
    other_payment: Payment
    draft: Invoice


@pytest.fixture
def world() -> World:
    acme, globex = make_customer("Acme Ltd"), make_customer("Globex")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    make_member(globex, Role.BILLING)
    invoice = make_invoice(acme)
    paid = make_invoice(acme, amount_minor=30_00)
    payment = services.payment_record_manual(invoice=paid, actor=None)
    other_invoice = make_invoice(globex)
    other_paid = make_invoice(globex)
    other_payment = services.payment_record_manual(invoice=other_paid, actor=None)
    return World(
        acme=acme,
        globex=globex,
        admin=admin,
        member=member,
        billing=billing,
        outsider=UserFactory(),
        invoice=invoice,
        payment=payment,
        other_invoice=other_invoice,
        other_payment=other_payment,
        draft=make_invoice(acme, issue=False),
    )


# Route name -> (method, path, status for those allowed).
ACCESS: dict[str, tuple[str, Callable[[World], str], int]] = {
    "invoice_list": ("get", lambda w: "/billing/invoices/", 200),
    "invoice_detail": ("get", lambda w: f"/billing/invoices/{w.invoice.number}/", 200),
    "invoice_print": ("get", lambda w: f"/billing/invoices/{w.invoice.number}/print/", 200),
    # No card token: refused as bad input, but only after the access check.
    "invoice_pay": ("post", lambda w: f"/billing/invoices/{w.invoice.number}/pay/", 400),
    "payment_sync": (
        "post",
        lambda w: f"/billing/invoices/{w.payment.invoice.number}/payments/{w.payment.pk}/sync/",
        200,
    ),
    "payment_list": ("get", lambda w: "/billing/payments/", 200),
    "receipt": ("get", lambda w: f"/billing/payments/{w.payment.pk}/receipt/", 200),
}
EXPECTED: dict[str, str | int] = {
    "anonymous": "login",
    "outsider": 404,  # belongs to no customer
    "member": 403,  # the role may not see invoices
    "billing": "ok",
    "admin": "ok",
}
# The provider's notifications: no session, a signature instead (test_webhooks.py).
SPECIAL = {"stripe_webhook"}

# Another customer's objects, and drafts: not found on every URL that names one.
NOT_FOUND: list[tuple[str, Callable[[World], str]]] = [
    ("get", lambda w: f"/billing/invoices/{w.other_invoice.number}/"),
    ("get", lambda w: f"/billing/invoices/{w.other_invoice.number}/print/"),
    ("post", lambda w: f"/billing/invoices/{w.other_invoice.number}/pay/"),
    (
        "post",
        lambda w: (
            f"/billing/invoices/{w.other_payment.invoice.number}"
            f"/payments/{w.other_payment.pk}/sync/"
        ),
    ),
    ("post", lambda w: f"/billing/invoices/{w.invoice.number}/payments/{w.other_payment.pk}/sync/"),
    ("get", lambda w: f"/billing/payments/{w.other_payment.pk}/receipt/"),
    ("get", lambda w: f"/billing/invoices/{w.draft.pk}/"),
    ("get", lambda w: "/billing/invoices/INV-1999-000001/"),
]


def test_every_billing_route_has_an_access_rule() -> None:
    resolver = get_resolver()
    names = {
        name for name in resolver.namespace_dict["billing"][1].reverse_dict if isinstance(name, str)
    }
    assert names == set(ACCESS) | SPECIAL


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_access_matrix(client: Client, world: World, actor: str) -> None:
    """Each route as this actor (one world per actor keeps the matrix fast)."""
    if actor != "anonymous":
        client.force_login(getattr(world, actor))
    expected = EXPECTED[actor]
    wrong = []
    for route, (method, build, ok) in sorted(ACCESS.items()):
        response = getattr(client, method)(build(world))
        if expected == "login":
            location = response.get("Location", "")
            if response.status_code != 302 or not location.startswith("/accounts/login/?next="):
                wrong.append((route, response.status_code, location))
        elif response.status_code != (ok if expected == "ok" else expected):
            wrong.append((route, response.status_code, ""))
    assert not wrong, f"{actor}: {wrong}"


@pytest.mark.parametrize("actor", ["billing", "admin"])
def test_another_customers_invoice_is_not_found(client: Client, world: World, actor: str) -> None:
    client.force_login(getattr(world, actor))
    found = [
        (method, build(world))
        for method, build in NOT_FOUND
        if getattr(client, method)(build(world)).status_code != 404
    ]
    assert not found


def test_the_list_filters_and_adds_up_what_is_due(client: Client, world: World) -> None:
    overdue = services.invoice_issue(
        invoice=make_invoice(world.acme, amount_minor=20_00, issue=False),
        actor=None,
        issue_date=timezone.localdate() - timedelta(days=40),
    )
    client.force_login(world.billing)
    page = client.get("/billing/invoices/").content.decode()
    number, paid, other = (
        str(i.number) for i in (world.invoice, world.payment.invoice, world.other_invoice)
    )
    assert number in page and paid in page and other not in page
    assert "EUR\u00a0120.00</strong> to pay on 2 invoices" in page
    assert "1 overdue" in page
    overdue_page = client.get("/billing/invoices/?status=overdue").content.decode()
    assert str(overdue.number) in overdue_page and number not in overdue_page
    paid_page = client.get("/billing/invoices/?status=paid").content.decode()
    assert paid in paid_page and number not in paid_page
    assert client.get("/billing/invoices/?status=nonsense").status_code == 200


def test_live_regions_are_marked_for_updates(client: Client, world: World) -> None:
    client.force_login(world.billing)
    number = world.invoice.number
    listing = client.get("/billing/invoices/").content.decode()
    assert f'id="invoice-row-{number}" data-live-topics="invoice:{number}"' in listing
    assert 'id="invoice-outstanding"' in listing
    detail = client.get(f"/billing/invoices/{number}/").content.decode()
    assert f'data-live-topics="invoice:{number}"' in detail
    for region in ("invoice-status", "invoice-pay", "invoice-payments"):
        assert f'id="{region}"' in detail


def test_the_payment_page_allows_the_providers_script_and_no_other_page_does(
    client: Client, world: World, stripe_test: StripeTest
) -> None:
    client.force_login(world.billing)
    detail = client.get(f"/billing/invoices/{world.invoice.number}/")
    page = detail.content.decode()
    origin = stripe_test.server.url
    csp = detail["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert origin in script_src and "unsafe-inline" not in csp
    assert f'src="{origin}/js.stripe.com/v3/"' in page
    assert 'data-publishable-key="pk_test_portal"' in page
    assert "<script>" not in page  # no inline script
    assert origin not in client.get("/billing/invoices/")["Content-Security-Policy"]
    # A paid invoice has nothing to pay: no provider script either.
    paid = client.get(f"/billing/invoices/{world.payment.invoice.number}/")
    assert origin not in paid["Content-Security-Policy"]
    assert 'id="card-form"' not in paid.content.decode()


def test_an_admin_may_pay_and_a_billing_member_too_but_text_is_escaped(
    client: Client, world: World, stripe_test: StripeTest
) -> None:
    invoice = make_invoice(world.acme, description="<script>alert('x')</script>")
    client.force_login(world.admin)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert 'id="card-form"' in page


def test_printable_invoice_and_receipt(client: Client, world: World) -> None:
    client.force_login(world.billing)
    invoice = world.payment.invoice
    printable = client.get(f"/billing/invoices/{invoice.number}/print/").content.decode()
    assert "Acme Ltd" in printable and "data-print" in printable
    assert "/static/billing/billing." in printable
    receipt = client.get(f"/billing/payments/{world.payment.pk}/receipt/").content.decode()
    assert world.payment.receipt_number in receipt and "EUR\u00a030.00" in receipt
    assert "Bank transfer" in receipt
    history = client.get("/billing/payments/").content.decode()
    assert world.payment.receipt_number in history
    assert world.other_payment.receipt_number not in history


def test_the_header_and_dashboard_show_invoices_to_who_may_see_them(
    client: Client, world: World
) -> None:
    client.force_login(world.billing)
    dashboard = client.get("/dashboard/").content.decode()
    assert 'href="/billing/invoices/"' in dashboard
    assert "EUR\u00a0100.00 to pay on 1 invoice" in dashboard
    client.force_login(world.member)
    dashboard = client.get("/dashboard/").content.decode()
    assert 'href="/billing/invoices/"' not in dashboard


def _queries(client: Client, url: str, world: World) -> int:
    """Queries of a view that renders its page (none from the page cache)."""
    versions_bump(customers=[world.acme.pk])
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_lists_and_details_do_not_query_per_row(client: Client, world: World) -> None:
    client.force_login(world.billing)
    client.get("/dashboard/")  # the session's first request writes more
    detail = f"/billing/invoices/{world.invoice.number}/"
    before = {
        url: _queries(client, url, world)
        for url in ("/billing/invoices/", "/billing/payments/", detail)
    }
    for _ in range(6):
        paid = make_invoice(world.acme, amount_minor=10_00)
        payment = services.payment_record_manual(invoice=paid, actor=None)
        services.refund_issue(invoice=paid, amount_minor=1_00, actor=None)
        assert payment.pk
    for n in range(4):
        services.invoice_create(
            customer=world.acme,
            lines=[services.LineInput(description=f"line {n}", unit_price_minor=1)],
            created_by=None,
        )
    # More lines on the invoice shown, too.
    for n in range(5):
        InvoiceLine.objects.create(invoice=world.invoice, description=f"x{n}", unit_price_minor=1)
    for url in before:
        client.get(url)  # the new rows moved the cached memberships on: read them again
    after = {url: _queries(client, url, world) for url in before}
    assert after == before


def test_the_payment_page_without_javascript_says_so(
    client: Client, world: World, stripe_test: Any
) -> None:
    client.force_login(world.billing)
    page = client.get(f"/billing/invoices/{world.invoice.number}/").content.decode()
    assert "<noscript>" in page and "needs JavaScript" in page
    assert "hidden>" in page  # the form appears only once the provider's script runs
