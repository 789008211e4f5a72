from __future__ import annotations

from decimal import Decimal

from portal.accounts.models import User
from portal.billing import services
from portal.billing.models import Invoice
from portal.customers.models import Customer


def make_invoice(
    customer: Customer,
    *,
    amount_minor: int = 100_00,
    tax_rate: str = "0",
    description: str = "Consulting",
    issue: bool = True,
    actor: User | None = None,
    currency: str = "EUR",
) -> Invoice:
    invoice = services.invoice_create(
        customer=customer,
        lines=[
            services.LineInput(
                description=description, unit_price_minor=amount_minor, tax_rate=Decimal(tax_rate)
            )
        ],
        created_by=actor,
        currency=currency,
    )
    if issue:
        invoice = services.invoice_issue(invoice=invoice, actor=actor)
    return invoice
