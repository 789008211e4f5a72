"""``/api/v1/invoices``: a customer's issued invoices (list, get) and starting a payment.

Starting a payment returns what a client needs for the provider's own card
form (Stripe.js with the publishable key and the payment's client secret):
card data never passes through the portal (PCI SAQ A). The payment settles
from the provider's webhook, as a payment made on the portal's page does.
"""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

import datetime as dt
from typing import Any, Literal

from django.conf import settings
from django.http import Http404, HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.params.functions import Path as PathParam
from ninja.responses import Status

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.pagination import Mapped, PagePagination
from portal.apikit.problems import ApiProblem
from portal.apikit.schemas import MAX_ID
from portal.customers.roles import Permission

from . import selectors, services
from .models import Invoice, InvoiceStatus, PaymentStatus

router = Router(tags=["invoices"])


class InvoiceLineOut(Schema):
    description: str
    quantity: str = Field(description="A decimal, as a string.")
    unit_price_minor: int
    tax_rate: str = Field(description="Percent, as a decimal string.")
    total_minor: int


class InvoiceOut(Schema):
    number: str
    customer_id: int
    status: InvoiceStatus
    currency: str
    issue_date: dt.date | None
    due_date: dt.date | None
    overdue: bool
    subtotal_minor: int = Field(description="Amounts are integers in minor units (cents).")
    tax_minor: int
    total_minor: int
    amount_paid_minor: int
    amount_refunded_minor: int
    amount_due_minor: int
    url: str = Field(description="The invoice in the portal, where it can be paid.")


class InvoiceDetailOut(InvoiceOut):
    bill_to: str
    notes: str
    lines: list[InvoiceLineOut]


class InvoiceFilters(Schema):
    customer_id: int | None = Field(None, ge=1, le=MAX_ID, description="When you act for several.")
    status: Literal["open", "paid", "refunded", "void", "overdue"] | None = None


def _out(request: HttpRequest, invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        number=invoice.number or "",
        customer_id=invoice.customer_id,
        status=InvoiceStatus(invoice.status),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        overdue=invoice.is_overdue,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        amount_paid_minor=invoice.amount_paid_minor,
        amount_refunded_minor=invoice.amount_refunded_minor,
        amount_due_minor=invoice.amount_due_minor,
        url=request.build_absolute_uri(reverse("billing:invoice_detail", args=[invoice.number])),
    )


@router.get("/invoices", response=list[InvoiceOut], summary="List invoices")
@paginate(PagePagination)
def invoice_list(request: HttpRequest, filters: Query[InvoiceFilters]) -> Any:
    """One customer's issued invoices, newest first. Needs a role that may see invoices."""
    caller = principal(request)
    membership = caller.pick(Permission.INVOICES_VIEW, filters.customer_id)
    invoices = selectors.invoice_list(customer=membership.customer, status=filters.status or "")
    return Mapped(invoices, lambda invoice: _out(request, invoice))


def _invoice(caller: ApiPrincipal, number: str, permission: Permission) -> Invoice:
    """An issued invoice of a customer the caller acts for, whose role allows ``permission``;
    the same 404 for any other (invoice numbers are unique across customers)."""
    for customer_id in caller.customers_allowing(permission):
        membership = caller.membership(customer_id)
        if selectors.invoice_list(customer=membership.customer).filter(number=number).exists():
            return selectors.invoice_get(customer=membership.customer, number=number)
    raise Http404("No such invoice.")


InvoiceNumber = PathParam(
    ..., pattern=r"^[A-Za-z0-9]+-\d{4}-\d{6}$", max_length=30, description="e.g. INV-2026-000042"
)


@router.get("/invoices/{invoice_number}", response=InvoiceDetailOut, summary="Get an invoice")
def invoice_get(request: HttpRequest, invoice_number: str = InvoiceNumber) -> InvoiceDetailOut:
    invoice = _invoice(principal(request), invoice_number, Permission.INVOICES_VIEW)
    return InvoiceDetailOut(
        **_out(request, invoice).model_dump(),
        bill_to=invoice.bill_to,
        notes=invoice.notes,
        lines=[
            InvoiceLineOut(
                description=line.description,
                quantity=str(line.quantity),
                unit_price_minor=line.unit_price_minor,
                tax_rate=str(line.tax_rate),
                total_minor=line.total_minor,
            )
            for line in invoice.lines.all()
        ],
    )


class PaymentStartOut(Schema):
    payment_id: str = Field(description="The portal's id of this payment.")
    provider: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    client_secret: str = Field(description="For the provider's card form (Stripe.js).")
    publishable_key: str = Field(description="The provider's public key for its card form.")


@router.post(
    "/invoices/{invoice_number}/payments",
    response={201: PaymentStartOut},
    summary="Start paying an invoice",
)
def invoice_payment_start(request: HttpRequest, invoice_number: str = InvoiceNumber) -> Status[Any]:
    """Creates (or reuses) the invoice's unfinished payment at the provider, without
    moving money. Complete it with the provider's card form; the portal settles it from
    the provider's webhook. 409 if the invoice is not open; 503 if card payment is off."""
    caller = principal(request)
    invoice = _invoice(caller, invoice_number, Permission.INVOICES_VIEW)
    caller.require(Permission.INVOICES_PAY, invoice.customer_id)
    try:
        payment = services.payment_start(invoice=invoice, user=caller.user)
    except services.BillingError as error:
        if error.code in {"unconfigured", "provider"}:
            raise ApiProblem(503, error.message, headers={"Retry-After": "60"}) from None
        raise ApiProblem(409, error.message) from None
    return Status(
        201,
        PaymentStartOut(
            payment_id=str(payment.public_id),
            provider=payment.provider,
            status=PaymentStatus(payment.status),
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            client_secret=payment.client_secret,
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        ),
    )
