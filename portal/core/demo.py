"""Demo data for ``make run``: loaded idempotently, printed at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.db import transaction

from portal.accounts.models import User
from portal.accounts.services import user_ensure
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
    return changed
