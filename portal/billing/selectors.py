"""Reads of invoices and payments for the customer a user acts for.

Views get ``customer`` from the access layer (the signed-in user's active
membership, whose role allows seeing invoices). Anything of another customer,
and every draft, is reported exactly like a missing invoice.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from portal.customers.models import Customer

from .models import Invoice, InvoiceStatus, Payment, PaymentStatus, Refund, RefundStatus
from .money import format_money

# The list's filters: name -> statuses (overdue is open and past its due date).
INVOICE_FILTERS: dict[str, list[str]] = {
    "open": [InvoiceStatus.OPEN],
    "overdue": [InvoiceStatus.OPEN],
    "paid": [InvoiceStatus.PAID],
    "refunded": [InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED],
    "void": [InvoiceStatus.VOID],
}


@dataclass(frozen=True)
class Outstanding:
    currency: str
    amount_minor: int
    count: int
    overdue_count: int

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)


def invoice_list(*, customer: Customer, status: str = "") -> QuerySet[Invoice]:
    invoices = Invoice.objects.visible().filter(customer=customer)
    if status in INVOICE_FILTERS:
        invoices = invoices.filter(status__in=INVOICE_FILTERS[status])
    if status == "overdue":
        invoices = invoices.filter(due_date__lt=timezone.localdate())
    return invoices.order_by("-issue_date", "-id")


def invoice_get(*, customer: Customer, number: str) -> Invoice:
    """An issued invoice of ``customer`` with its lines; 404 for anything else."""
    invoice = (
        Invoice.objects.visible()
        .filter(customer=customer, number=number)
        .select_related("customer")
        .prefetch_related("lines")
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def invoice_payments(*, invoice: Invoice) -> QuerySet[Payment]:
    """The payments a customer cares about: those that went through or failed."""
    return (
        invoice.payments.filter(status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.FAILED])
        .prefetch_related(_succeeded_refunds())
        .order_by("-created_at", "-id")
    )


def invoice_outstanding(*, customer: Customer) -> list[Outstanding]:
    """What is still to pay, per currency."""
    rows = (
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(
            due=Sum(F("total_minor") - F("amount_paid_minor")),
            count=Count("id"),
            overdue=Count("id", filter=Q(due_date__lt=timezone.localdate())),
        )
        .order_by("currency")
    )
    return [
        Outstanding(
            currency=row["currency"],
            amount_minor=int(row["due"] or 0),
            count=row["count"],
            overdue_count=row["overdue"],
        )
        for row in rows
    ]


def payment_list(*, customer: Customer) -> QuerySet[Payment]:
    """The customer's payment history: money received, with what was refunded of it."""
    return (
        Payment.objects.filter(invoice__customer=customer, status=PaymentStatus.SUCCEEDED)
        .select_related("invoice")
        .prefetch_related(_succeeded_refunds())
        .order_by("-succeeded_at", "-id")
    )


def payment_get_for_receipt(*, customer: Customer, payment_id: int) -> Payment:
    payment = (
        Payment.objects.filter(
            pk=payment_id, invoice__customer=customer, status=PaymentStatus.SUCCEEDED
        )
        .select_related("invoice", "invoice__customer")
        .prefetch_related(_succeeded_refunds())
        .first()
    )
    if payment is None:
        raise Http404("No such receipt.")
    return payment


def payment_get_for_invoice(*, invoice: Invoice, payment_id: int) -> Payment:
    payment = Payment.objects.filter(pk=payment_id, invoice=invoice).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


def _succeeded_refunds() -> Prefetch[str, QuerySet[Refund], str]:
    return Prefetch(
        "refunds",
        queryset=Refund.objects.filter(status=RefundStatus.SUCCEEDED).order_by("created_at"),
        to_attr="succeeded_refunds",
    )
