from __future__ import annotations

import pytest

from portal.billing.models import Invoice, InvoiceLine, InvoiceSequence, Payment, Refund
from portal.core.demo import load_demo_data

pytestmark = pytest.mark.django_db

MODELS = (Invoice, InvoiceLine, InvoiceSequence, Payment, Refund)


def _states(customer_number: str) -> set[str]:
    invoices = Invoice.objects.filter(customer__number=customer_number)
    return {"overdue" if i.is_overdue else i.status for i in invoices}


def test_demo_invoices_for_acme_and_jane() -> None:
    load_demo_data(password="a-demo-password-1")
    for customer in ("C-900001", "C-900002"):
        assert _states(customer) == {"open", "overdue", "paid", "refunded"}
    assert all(i.number and i.total_minor > 0 for i in Invoice.objects.all())


def test_loading_the_demo_twice_changes_no_invoice() -> None:
    load_demo_data(password="a-demo-password-1")
    before = [list(model.objects.order_by("pk").values()) for model in MODELS]
    assert load_demo_data(password="a-demo-password-1") == 0
    after = [list(model.objects.order_by("pk").values()) for model in MODELS]
    assert after == before
