"""Demo data for ``make run``: loaded idempotently, printed at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.billing import services as billing
from portal.billing.models import Invoice
from portal.customers.models import Customer, CustomerKind, Membership
from portal.customers.roles import Role
from portal.customers.services import customer_create
from portal.documents.demo import load_demo_documents

DEFAULT_DEMO_PASSWORD = "portal-demo-2026"  # noqa: S105 - documented, demo data only


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    description: str
    customer: str = ""
    role: str = ""
    is_staff: bool = False


@dataclass(frozen=True)
class DemoCustomer:
    number: str
    name: str
    kind: str


DEMO_CUSTOMERS = (
    DemoCustomer("C-900001", "Acme Ltd", CustomerKind.ORGANISATION),
    DemoCustomer("C-900002", "Jane Doe", CustomerKind.INDIVIDUAL),
)

DEMO_USERS = (
    DemoUser("admin@acme.example", "Alice", "Admin", "Acme Ltd, admin", "C-900001", Role.ADMIN),
    DemoUser(
        "member@acme.example", "Martin", "Member", "Acme Ltd, member", "C-900001", Role.MEMBER
    ),
    DemoUser(
        "billing@acme.example", "Bianca", "Billing", "Acme Ltd, billing", "C-900001", Role.BILLING
    ),
    DemoUser(
        "jane@example.org", "Jane", "Doe", "individual customer (admin)", "C-900002", Role.ADMIN
    ),
    DemoUser("staff@portal.example", "Sam", "Staff", "staff, back office", is_staff=True),
)


@dataclass(frozen=True)
class DemoInvoice:
    """An invoice of a demo customer; ``key`` makes it idempotent."""

    key: str
    customer: str
    state: str  # open, overdue, paid, refunded
    lines: tuple[tuple[str, str, int, str], ...]  # description, quantity, unit price (cents), tax %


DEMO_INVOICES = (
    DemoInvoice(
        "acme-open",
        "C-900001",
        "open",
        (("Managed hosting, monthly", "1", 49_00, "19"), ("Extra storage (GB)", "50", 10, "19")),
    ),
    DemoInvoice("acme-overdue", "C-900001", "overdue", (("Support hours", "3.5", 85_00, "19"),)),
    DemoInvoice("acme-paid", "C-900001", "paid", (("Onboarding workshop", "1", 450_00, "19"),)),
    DemoInvoice(
        "acme-refunded", "C-900001", "refunded", (("Cancelled training seat", "1", 120_00, "19"),)
    ),
    DemoInvoice("jane-open", "C-900002", "open", (("Annual membership", "1", 60_00, "19"),)),
    DemoInvoice("jane-overdue", "C-900002", "overdue", (("Repair call-out", "1", 75_00, "19"),)),
    DemoInvoice("jane-paid", "C-900002", "paid", (("Device set-up", "1", 39_00, "19"),)),
    DemoInvoice("jane-refunded", "C-900002", "refunded", (("Spare part", "2", 12_50, "19"),)),
)


def _demo_invoice(demo: DemoInvoice, customer: Customer, staff: User | None) -> bool:
    """Create one demo invoice in its state; False when it is already there."""
    source = f"demo:{demo.key}"
    if Invoice.objects.filter(source_reference=source).exists():
        return False
    today = timezone.localdate()
    issued = today - timedelta(days=40 if demo.state == "overdue" else 3)
    invoice = billing.invoice_create(
        customer=customer,
        lines=[
            billing.LineInput(
                description=description,
                quantity=Decimal(quantity),
                unit_price_minor=price,
                tax_rate=Decimal(tax),
            )
            for description, quantity, price, tax in demo.lines
        ],
        created_by=staff,
        currency="EUR",
        source_reference=source,
    )
    invoice = billing.invoice_issue(invoice=invoice, actor=staff, issue_date=issued, notify=False)
    if demo.state in {"paid", "refunded"}:
        billing.payment_record_manual(
            invoice=invoice, actor=staff, note="Demo bank transfer", notify=False
        )
    if demo.state == "refunded":
        invoice.refresh_from_db()
        billing.refund_issue(
            invoice=invoice,
            amount_minor=invoice.amount_paid_minor,
            actor=staff,
            reason="Demo refund",
            notify=False,
        )
    return True


def demo_password() -> str:
    return os.environ.get("PORTAL_DEMO_PASSWORD", "").strip() or DEFAULT_DEMO_PASSWORD


@transaction.atomic
def load_demo_data(*, password: str) -> int:
    """Create or update the demo records. Returns how many changed (0 on a rerun)."""
    changed = 0
    customers = {}
    for demo_customer in DEMO_CUSTOMERS:
        customer = Customer.objects.filter(number=demo_customer.number).first()
        if customer is None:
            customer = customer_create(
                name=demo_customer.name, kind=demo_customer.kind, number=demo_customer.number
            )
            changed += 1
        customers[demo_customer.number] = customer
    for demo in DEMO_USERS:
        user, user_changed = user_ensure(
            email=demo.email,
            password=password,
            first_name=demo.first_name,
            last_name=demo.last_name,
            is_staff=demo.is_staff,
            is_superuser=demo.is_staff,
        )
        changed += int(user_changed)
        if demo.customer:
            _, created = Membership.objects.update_or_create(
                user=user, customer=customers[demo.customer], defaults={"role": demo.role}
            )
            changed += int(created)
    from portal.servicedesk.demo import load_servicedesk_demo

    changed += load_servicedesk_demo(
        customers=customers, staff=User.objects.get(email="staff@portal.example")
    )
    changed += load_demo_documents()
    staff = User.objects.filter(email="staff@portal.example").first()
    for demo_invoice in DEMO_INVOICES:
        changed += int(_demo_invoice(demo_invoice, customers[demo_invoice.customer], staff))
    return changed
