"""Demo data for ``make run``: loaded idempotently, printed at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.db import transaction

from portal.accounts.services import user_ensure

DEFAULT_DEMO_PASSWORD = "portal-demo-2026"  # noqa: S105 - documented, demo data only


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    description: str
    is_staff: bool = False


DEMO_USERS = (
    DemoUser("admin@acme.example", "Alice", "Admin", "Acme Ltd, customer admin"),
    DemoUser("member@acme.example", "Martin", "Member", "Acme Ltd, member"),
    DemoUser("billing@acme.example", "Bianca", "Billing", "Acme Ltd, billing"),
    DemoUser("jane@example.org", "Jane", "Doe", "individual customer, admin of her own"),
    DemoUser("staff@portal.example", "Sam", "Staff", "staff, back office", is_staff=True),
)


def demo_password() -> str:
    return os.environ.get("PORTAL_DEMO_PASSWORD", "").strip() or DEFAULT_DEMO_PASSWORD


@transaction.atomic
def load_demo_data(*, password: str) -> int:
    """Create or update the demo records. Returns how many changed (0 on a rerun)."""
    changed = 0
    for demo in DEMO_USERS:
        _, user_changed = user_ensure(
            email=demo.email,
            password=password,
            first_name=demo.first_name,
            last_name=demo.last_name,
            is_staff=demo.is_staff,
            is_superuser=demo.is_staff,
        )
        changed += int(user_changed)
    return changed
