"""Invoices, their lines, payments and refunds. Amounts are integer minor units."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .money import format_money, round_minor


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    VOID = "void", _("Void")

    @property
    def colour(self) -> str:
        return INVOICE_STATUS_COLOURS[self]


INVOICE_STATUS_COLOURS = {
    InvoiceStatus.DRAFT: "grey",
    InvoiceStatus.OPEN: "blue",
    InvoiceStatus.PAID: "green",
    InvoiceStatus.PARTIALLY_REFUNDED: "amber",
    InvoiceStatus.REFUNDED: "grey",
    InvoiceStatus.VOID: "grey",
}

# The only ways an invoice's status may change, written once.
INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID}),
    InvoiceStatus.OPEN: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset({InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED}),
    InvoiceStatus.PARTIALLY_REFUNDED: frozenset(
        {InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED}
    ),
    InvoiceStatus.REFUNDED: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}

# What a customer can see: everything that has been issued.
VISIBLE_STATUSES = [s for s in InvoiceStatus if s != InvoiceStatus.DRAFT]


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def visible(self) -> InvoiceQuerySet:
        return self.exclude(status=InvoiceStatus.DRAFT)

    def overdue(self) -> InvoiceQuerySet:
        return self.filter(status=InvoiceStatus.OPEN, due_date__lt=timezone.localdate())


class Invoice(models.Model):
    number = models.CharField(
        _("number"), max_length=32, unique=True, null=True, blank=True, editable=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=InvoiceStatus.choices,
        default=InvoiceStatus.DRAFT,
        editable=False,
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    issue_date = models.DateField(_("issued"), null=True, blank=True, editable=False)
    due_date = models.DateField(_("due"), null=True, blank=True, editable=False)
    bill_to = models.TextField(_("bill to"), blank=True, editable=False)
    notes = models.TextField(_("notes"), blank=True)
    subtotal_minor = models.BigIntegerField(_("net total"), default=0, editable=False)
    tax_minor = models.BigIntegerField(_("tax"), default=0, editable=False)
    total_minor = models.BigIntegerField(_("total"), default=0, editable=False)
    amount_paid_minor = models.BigIntegerField(_("paid"), default=0, editable=False)
    amount_refunded_minor = models.BigIntegerField(_("refunded"), default=0, editable=False)
    # Who or what asked for the invoice, e.g. "servicedesk:SR-2026-000123"; one invoice each.
    source_reference = models.CharField(
        _("source"), max_length=100, blank=True, default="", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True, editable=False)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True, editable=False)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ("-issue_date", "-id")
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["source_reference"],
                condition=~Q(source_reference=""),
                name="one_invoice_per_source",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid_minor__gte=0) & Q(amount_refunded_minor__gte=0),
                name="invoice_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "-issue_date"]),
            # A customer's invoice list, newest first, in the index's order.
            models.Index(fields=["customer", "-issue_date", "-id"], name="invoice_customer_newest"),
        ]

    def __str__(self) -> str:
        return self.number or str(_("Draft invoice %(id)s") % {"id": self.pk})

    @property
    def status_enum(self) -> InvoiceStatus:
        return InvoiceStatus(self.status)

    @property
    def is_overdue(self) -> bool:
        return (
            self.status == InvoiceStatus.OPEN
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )

    @property
    def amount_due_minor(self) -> int:
        if self.status != InvoiceStatus.OPEN:
            return 0
        return max(self.total_minor - self.amount_paid_minor, 0)

    @property
    def refundable_minor(self) -> int:
        return max(self.amount_paid_minor - self.amount_refunded_minor, 0)

    @property
    def badge(self) -> tuple[str, str]:
        """(label, colour) for the status badge; an open invoice past its due date is overdue."""
        if self.is_overdue:
            return str(_("Overdue")), "red"
        status = self.status_enum
        return str(status.label), status.colour

    def money(self, amount_minor: int) -> str:
        return format_money(amount_minor, self.currency)

    @property
    def total_display(self) -> str:
        return self.money(self.total_minor)

    @property
    def due_display(self) -> str:
        return self.money(self.amount_due_minor)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    unit_price_minor = models.BigIntegerField(
        _("unit price (minor units)"), validators=[MinValueValidator(0)]
    )
    tax_rate = models.DecimalField(
        _("tax rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )

    class Meta:
        ordering = ("position", "id")
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")

    def __str__(self) -> str:
        return self.description

    @property
    def net_minor(self) -> int:
        return round_minor(Decimal(self.quantity) * self.unit_price_minor)

    @property
    def tax_amount_minor(self) -> int:
        return round_minor(Decimal(self.net_minor) * Decimal(self.tax_rate) / 100)

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_amount_minor


class InvoiceSequence(models.Model):
    """The last invoice number handed out per year; incremented under a row lock."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class PaymentStatus(models.TextChoices):
    STARTED = "started", _("Started")
    PENDING = "pending", _("Waiting for the card")
    ACTION_REQUIRED = "action_required", _("Waiting for the card holder's confirmation")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Cancelled")


# A payment in one of these may still become a charge.
OPEN_PAYMENT_STATUSES = (
    PaymentStatus.STARTED,
    PaymentStatus.PENDING,
    PaymentStatus.ACTION_REQUIRED,
    PaymentStatus.PROCESSING,
)


class Payment(models.Model):
    """One attempt to pay an invoice; the provider's reference is its PaymentIntent."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(_("provider"), max_length=20)
    reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    # Lets the customer's browser finish this payment with the provider; not a secret
    # of ours, but only ever shown to the customer paying.
    client_secret = models.CharField(max_length=200, blank=True, editable=False)
    amount_minor = models.BigIntegerField(_("amount"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.STARTED
    )
    failure_message = models.CharField(_("failure"), max_length=300, blank=True)
    card_brand = models.CharField(_("card"), max_length=30, blank=True)
    card_last4 = models.CharField(_("card ending"), max_length=4, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    # Set while one request is asking the provider to create this payment, so that a
    # concurrent request waits for it instead of creating a second one.
    starting_since = models.DateTimeField(null=True, blank=True, editable=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference"],
                condition=~Q(reference=""),
                name="one_payment_per_provider_reference",
            )
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} ({self.get_status_display()})"

    @property
    def idempotency_key(self) -> str:
        """The key for creating this payment at the provider: a retry reuses it."""
        return f"portal-payment-{self.public_id}"

    @property
    def receipt_number(self) -> str:
        return f"R-{self.pk:06d}" if self.pk else ""

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField(_("amount"), validators=[MinValueValidator(1)])
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    failure_message = models.CharField(_("failure"), max_length=300, blank=True)
    # Made at the provider (e.g. in Stripe's dashboard) and learnt from it.
    external = models.BooleanField(_("made at the provider"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="one_refund_per_reference"
            )
        ]

    def __str__(self) -> str:
        return f"{format_money(self.amount_minor, self.currency)} ({self.get_status_display()})"

    @property
    def idempotency_key(self) -> str:
        return f"portal-refund-{self.public_id}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)


class ProcessedEvent(models.Model):
    """A provider notification that has been acted on: a replay changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-processed_at",)
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="event_processed_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type}"
