"""Every change to invoices, payments and refunds.

Functions that only touch the database are one transaction each. Those that
talk to the payment provider never hold a transaction (or a row lock) while
they wait for it: they commit what they are about to do, call the provider,
and record the answer in a second transaction. Each step is safe to repeat,
and the provider is always asked with an idempotency key derived from our row,
so a retry after a timeout cannot charge or refund twice.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import NotificationKind, User
from portal.core import metrics
from portal.core.audit import audit_record
from portal.core.models import AuditAction
from portal.customers.models import Customer, Membership
from portal.customers.roles import Permission
from portal.live.services import live_event_emit, notification_send

from .models import (
    INVOICE_TRANSITIONS,
    OPEN_PAYMENT_STATUSES,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ProcessedEvent,
    Refund,
    RefundStatus,
)
from .money import format_money
from .providers import base as providers
from .providers.base import PaymentProvider, PaymentState, ProviderEvent, RefundState

logger = logging.getLogger(__name__)

MANUAL_PROVIDER = "manual"
# A request that has been asking the provider to create a payment for longer than
# its timeout plus this has given up; another request may take over.
CLAIM_MARGIN_SECONDS = 5.0
CARD_TOKEN = re.compile(r"tok_[A-Za-z0-9_]{6,100}")
CURRENCY = re.compile(r"[A-Z]{3}")


class BillingError(Exception):
    """A billing action that cannot be done. ``message`` is for the person who asked."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class LineInput:
    description: str
    unit_price_minor: int
    quantity: Decimal = Decimal(1)
    tax_rate: Decimal = Decimal(0)


@dataclass(frozen=True)
class PaymentOutcome:
    """What happened when a customer paid: what their browser should do next."""

    payment: Payment
    status: str  # "succeeded", "processing", "requires_action", "declined", "pending"
    message: str = ""
    client_secret: str = ""


# --- Invoices ----------------------------------------------------------------------


def _transition(invoice: Invoice, new: InvoiceStatus) -> None:
    current = InvoiceStatus(invoice.status)
    if new not in INVOICE_TRANSITIONS[current]:
        raise BillingError(
            _("An invoice that is %(current)s cannot become %(new)s.")
            % {"current": current.label, "new": new.label},
            code="transition",
        )
    invoice.status = new


def _check_currency(currency: str) -> str:
    currency = currency.strip().upper()
    if not CURRENCY.fullmatch(currency):
        raise BillingError(_("A currency is three letters, such as EUR."), code="currency")
    return currency


@transaction.atomic
def invoice_create(
    *,
    customer: Customer,
    lines: Sequence[LineInput],
    created_by: User | None,
    currency: str | None = None,
    notes: str = "",
    source_reference: str = "",
) -> Invoice:
    """A draft invoice with its lines; staff issue it when it is complete."""
    if not lines:
        raise BillingError(_("An invoice needs at least one line."), code="no_lines")
    invoice = Invoice.objects.create(
        customer=customer,
        currency=_check_currency(currency or settings.PORTAL_CURRENCY),
        notes=notes,
        source_reference=source_reference,
        created_by=created_by,
    )
    for position, line in enumerate(lines, start=1):
        if line.unit_price_minor < 0 or line.quantity <= 0 or line.tax_rate < 0:
            raise BillingError(_("Prices, quantities and tax rates cannot be negative."))
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            tax_rate=line.tax_rate,
        )
    return invoice_recalculate(invoice=invoice)


@transaction.atomic
def invoice_recalculate(*, invoice: Invoice) -> Invoice:
    """Add up a draft's lines into its totals."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        return invoice
    lines = list(invoice.lines.all())
    invoice.subtotal_minor = sum(line.net_minor for line in lines)
    invoice.tax_minor = sum(line.tax_amount_minor for line in lines)
    invoice.total_minor = invoice.subtotal_minor + invoice.tax_minor
    invoice.save(update_fields=["subtotal_minor", "tax_minor", "total_minor"])
    return invoice


def _invoice_number_allocate(*, year: int) -> str:
    """The next number of ``year``, e.g. INV-2026-000042: no gaps, no duplicates.

    The UPDATE locks the year's row until the caller's transaction ends (SQLite
    serialises writers anyway), so concurrent issuers queue here; a rolled-back
    issue gives its number back.
    """
    InvoiceSequence.objects.bulk_create([InvoiceSequence(year=year, last=0)], ignore_conflicts=True)
    InvoiceSequence.objects.filter(year=year).update(last=F("last") + 1)
    last = InvoiceSequence.objects.values_list("last", flat=True).get(year=year)
    return f"{settings.PORTAL_INVOICE_PREFIX}-{year}-{last:06d}"


def _bill_to(customer: Customer) -> str:
    lines = [
        customer.name,
        customer.billing_address_line1,
        customer.billing_address_line2,
        " ".join(p for p in (customer.billing_postal_code, customer.billing_city) if p),
        customer.billing_country,
    ]
    return "\n".join(line for line in lines if line)


@transaction.atomic
def invoice_issue(
    *,
    invoice: Invoice,
    actor: User | None,
    issue_date: date | None = None,
    due_date: date | None = None,
    notify: bool = True,
    request: HttpRequest | None = None,
) -> Invoice:
    """Give a draft its number and dates and show it to the customer."""
    invoice = invoice_recalculate(invoice=invoice)
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    _transition(invoice, InvoiceStatus.OPEN)
    invoice.currency = _check_currency(invoice.currency)
    if invoice.total_minor <= 0:
        raise BillingError(_("An invoice must be for more than nothing."), code="empty")
    issued = issue_date or timezone.localdate()
    invoice.issue_date = issued
    invoice.due_date = due_date or issued + timedelta(days=settings.PORTAL_INVOICE_DUE_DAYS)
    invoice.number = _invoice_number_allocate(year=issued.year)
    invoice.bill_to = _bill_to(invoice.customer)
    invoice.save(
        update_fields=["status", "currency", "issue_date", "due_date", "number", "bill_to"]
    )
    audit_record(
        action=AuditAction.INVOICE_ISSUED,
        request=request,
        actor=actor,
        customer=invoice.customer,
        data={
            "invoice": invoice.number,
            "total": invoice.total_minor,
            "currency": invoice.currency,
        },
    )
    _invoice_event(invoice=invoice, announce=_("New invoice %(number)s.") % _names(invoice))
    if notify:
        _notify_invoice_readers(
            invoice=invoice,
            title=lambda: _("New invoice %(number)s for %(amount)s") % _names(invoice),
            body=lambda: _("It is due on %(due)s.") % _names(invoice),
            url=reverse("billing:invoice_detail", args=[invoice.number]),
        )
    return invoice


@transaction.atomic
def invoice_void(
    *, invoice: Invoice, actor: User | None, reason: str = "", request: HttpRequest | None = None
) -> Invoice:
    """Cancel an invoice nobody has paid anything on."""
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    if invoice.amount_paid_minor > 0:
        raise BillingError(
            _("Money has been received on this invoice: refund it instead of voiding it."),
            code="paid",
        )
    was_issued = invoice.status != InvoiceStatus.DRAFT
    _transition(invoice, InvoiceStatus.VOID)
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at"])
    Payment.objects.filter(invoice=invoice, status__in=OPEN_PAYMENT_STATUSES).update(
        status=PaymentStatus.CANCELED
    )
    audit_record(
        action=AuditAction.INVOICE_VOIDED,
        request=request,
        actor=actor,
        customer=invoice.customer,
        data={"invoice": invoice.number or "", "reason": reason},
    )
    if was_issued:
        _invoice_event(invoice=invoice, announce=_("Invoice %(number)s is void.") % _names(invoice))
    return invoice


@transaction.atomic
def invoice_create_for_fee(
    *,
    customer: Customer,
    description: str,
    amount_minor: int,
    currency: str,
    source_reference: str,
    created_by: User | None,
    tax_rate: Decimal = Decimal(0),
) -> Invoice:
    """Issue an open invoice for a fee, e.g. of a service request type, at once.

    Idempotent per ``source_reference`` (such as ``"servicedesk:SR-2026-000123"``):
    calling it again, even concurrently, returns the invoice made the first time.
    ``amount_minor`` is the net price in minor units; ``tax_rate`` a percentage.
    """
    if not source_reference:
        raise ValueError("invoice_create_for_fee needs a source_reference")
    if amount_minor <= 0:
        raise BillingError(_("A fee must be more than nothing."), code="empty")
    existing = Invoice.objects.filter(source_reference=source_reference).first()
    if existing is None:
        try:
            with transaction.atomic():
                draft = invoice_create(
                    customer=customer,
                    lines=[
                        LineInput(
                            description=description,
                            unit_price_minor=amount_minor,
                            tax_rate=tax_rate,
                        )
                    ],
                    created_by=created_by,
                    currency=currency,
                    source_reference=source_reference,
                )
                return invoice_issue(invoice=draft, actor=created_by)
        except IntegrityError:
            # Someone else created it between our look and our insert.
            existing = Invoice.objects.get(source_reference=source_reference)
    if existing.customer_id != customer.pk:
        raise ValueError(f"{source_reference} already invoiced to another customer")
    return existing


# --- Paying ------------------------------------------------------------------------


def payment_start(*, invoice: Invoice, user: User | None) -> Payment:
    """The payment a customer completes with their card: created at the provider once.

    Reuses the invoice's unfinished payment if there is one. Two concurrent
    calls get the same payment: the second waits while the first asks the
    provider. After a timeout the payment stays without a reference and the
    next call asks again with the same idempotency key, so the provider
    returns the payment it may already have made instead of a second one.
    """
    provider = _provider()
    payment, claimed = _payment_claim(invoice=invoice, user=user, provider=provider)
    if payment.reference:
        return payment
    if not claimed:
        return _payment_wait_for_start(payment=payment, provider=provider)
    try:
        start = provider.start_payment(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            metadata={"portal_payment": str(payment.public_id), "invoice": invoice.number or ""},
        )
    except providers.ProviderError as exc:
        _payment_release_claim(payment=payment, message=exc.message)
        raise BillingError(exc.message, code=exc.code or "provider") from exc
    return _payment_record_start(payment=payment, start=start)


def _provider() -> PaymentProvider:
    provider = providers.get_provider()
    if not provider.configured:
        raise BillingError(
            _("Card payment is not available at the moment. Please pay by bank transfer."),
            code="unconfigured",
        )
    return provider


@transaction.atomic
def _payment_claim(
    *, invoice: Invoice, user: User | None, provider: PaymentProvider
) -> tuple[Payment, bool]:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    due = invoice.amount_due_minor
    if invoice.status != InvoiceStatus.OPEN or due <= 0:
        raise BillingError(_("This invoice is not open for payment."), code="not_payable")
    unfinished = Payment.objects.select_for_update().filter(
        invoice=invoice, status__in=OPEN_PAYMENT_STATUSES
    )
    if unfinished.filter(status=PaymentStatus.PROCESSING).exists():
        raise BillingError(
            _("A payment for this invoice is being processed. Please wait for its result."),
            code="processing",
        )
    payment = (
        unfinished.filter(provider=provider.name, amount_minor=due, currency=invoice.currency)
        .order_by("-id")
        .first()
    )
    # Anything else unfinished was for another amount or provider: it can no longer be used.
    stale = unfinished.exclude(pk=payment.pk) if payment else unfinished
    canceled = stale.filter(status__in=[PaymentStatus.STARTED, PaymentStatus.PENDING]).update(
        status=PaymentStatus.CANCELED
    )
    metrics.payment_finished(provider=provider.name, outcome="canceled", count=canceled)
    if payment is None:
        payment = Payment.objects.create(
            invoice=invoice,
            provider=provider.name,
            amount_minor=due,
            currency=invoice.currency,
            started_by=user,
        )
    if payment.reference:
        return payment, False
    now = timezone.now()
    busy_until = timedelta(seconds=provider.timeout + CLAIM_MARGIN_SECONDS)
    if payment.starting_since is not None and now - payment.starting_since < busy_until:
        return payment, False
    payment.starting_since = now
    payment.save(update_fields=["starting_since"])
    return payment, True


def _payment_wait_for_start(*, payment: Payment, provider: PaymentProvider) -> Payment:
    deadline = time.monotonic() + provider.timeout + CLAIM_MARGIN_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)
        payment.refresh_from_db()
        if payment.reference:
            return payment
        if payment.starting_since is None:
            break
    raise BillingError(_unavailable_message(), code="unavailable")


@transaction.atomic
def _payment_release_claim(*, payment: Payment, message: str) -> None:
    Payment.objects.filter(pk=payment.pk, reference="").update(
        starting_since=None, failure_message=message[:300]
    )


@transaction.atomic
def _payment_record_start(*, payment: Payment, start: providers.PaymentStart) -> Payment:
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.reference and payment.reference != start.reference:
        # Cannot happen while the provider honours idempotency keys; never overwrite.
        logger.error(
            "provider returned a second payment for one idempotency key",
            extra={"payment": payment.pk},
        )
        return payment
    payment.reference = start.reference
    payment.client_secret = start.client_secret
    payment.starting_since = None
    payment.failure_message = ""
    payment.status = _PAYMENT_STATUS[start.status]
    payment.save(
        update_fields=["reference", "client_secret", "starting_since", "failure_message", "status"]
    )
    return payment


def payment_pay_with_card(
    *, invoice: Invoice, user: User | None, card_token: str
) -> PaymentOutcome:
    """Charge the card the customer entered in the provider's card fields.

    ``card_token`` is the provider's token for the card (``tok_...``); the card
    number never reaches the portal.
    """
    if not CARD_TOKEN.fullmatch(card_token):
        raise BillingError(
            _("The card details could not be used. Please enter them again."), code="token"
        )
    provider = _provider()
    for _attempt in range(2):
        payment = payment_start(invoice=invoice, user=user)
        if payment.status == PaymentStatus.ACTION_REQUIRED:
            # A card given before awaits its bank's confirmation: unless that has
            # failed meanwhile, the card holder finishes it first.
            payment = payment_sync(payment=payment)
            if payment.status != PaymentStatus.PENDING:
                return payment_outcome(payment)
        try:
            state = provider.confirm_with_card_token(
                reference=payment.reference,
                card_token=card_token,
                idempotency_key=f"{payment.idempotency_key}-{card_token}",
            )
        except providers.CardDeclined as exc:
            _payment_close(payment=payment, status=PaymentStatus.FAILED, message=exc.message)
            payment.refresh_from_db()
            return PaymentOutcome(payment=payment, status="declined", message=exc.message)
        except providers.PaymentGone:
            # E.g. the emulator restarted: this attempt is void, start a fresh one.
            _payment_close(payment=payment, status=PaymentStatus.CANCELED, message="")
            continue
        except providers.ProviderUnavailable as exc:
            raise BillingError(
                _(
                    "The payment service did not answer. If your card was charged, this invoice "
                    "will show as paid within a few minutes; please check before you try again."
                ),
                code="unavailable",
            ) from exc
        except providers.ProviderError:
            # E.g. already paid through another tab: go by what the provider says now.
            return payment_outcome(payment_sync(payment=payment))
        return payment_outcome(payment_apply_state(payment=payment, state=state))
    raise BillingError(_unavailable_message(), code="unavailable")


def payment_sync(*, payment: Payment) -> Payment:
    """Bring a payment up to date with the provider (the return from the card holder's bank)."""
    if payment.provider == MANUAL_PROVIDER or not payment.reference:
        return payment
    try:
        state = _provider().fetch_payment(reference=payment.reference)
    except providers.PaymentGone:
        _payment_close(payment=payment, status=PaymentStatus.CANCELED, message="")
        payment.refresh_from_db()
        return payment
    except providers.ProviderError as exc:
        raise BillingError(exc.message, code=exc.code or "provider") from exc
    return payment_apply_state(payment=payment, state=state)


@transaction.atomic
def _payment_close(*, payment: Payment, status: PaymentStatus, message: str) -> None:
    closed = Payment.objects.filter(pk=payment.pk, status__in=OPEN_PAYMENT_STATUSES).update(
        status=status, failure_message=message[:300], starting_since=None
    )
    metrics.payment_finished(provider=payment.provider, outcome=str(status), count=closed)
    if closed and status == PaymentStatus.FAILED:
        _log_payment("payment failed", payment, reason=message[:300])


def _log_payment(what: str, payment: Payment, **extra: object) -> None:
    """A payment event for the operator's log: identifiers and amounts, never card data."""
    logger.info(
        what,
        extra={
            "payment": payment.pk,
            "invoice_id": payment.invoice_id,
            "customer_id": Invoice.objects.filter(pk=payment.invoice_id)
            .values_list("customer_id", flat=True)
            .first(),
            "amount": payment.amount_minor,
            "currency": payment.currency,
            "provider": payment.provider,
            "reference": payment.reference,
            **extra,
        },
    )


def payment_outcome(payment: Payment) -> PaymentOutcome:
    if payment.status == PaymentStatus.SUCCEEDED:
        return PaymentOutcome(payment=payment, status="succeeded")
    if payment.status == PaymentStatus.PROCESSING:
        return PaymentOutcome(
            payment=payment,
            status="processing",
            message=_("Your payment is being processed. This page will show when it is done."),
        )
    if payment.status == PaymentStatus.ACTION_REQUIRED:
        return PaymentOutcome(
            payment=payment, status="requires_action", client_secret=payment.client_secret
        )
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return PaymentOutcome(
            payment=payment,
            status="declined",
            message=payment.failure_message or _("The payment did not go through."),
        )
    return PaymentOutcome(
        payment=payment,
        status="pending",
        message=payment.failure_message or _("The payment is not complete yet."),
    )


_PAYMENT_STATUS = {
    providers.PaymentStatus.REQUIRES_PAYMENT_METHOD: PaymentStatus.PENDING,
    providers.PaymentStatus.REQUIRES_CONFIRMATION: PaymentStatus.PENDING,
    providers.PaymentStatus.REQUIRES_ACTION: PaymentStatus.ACTION_REQUIRED,
    providers.PaymentStatus.PROCESSING: PaymentStatus.PROCESSING,
    providers.PaymentStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    providers.PaymentStatus.CANCELED: PaymentStatus.CANCELED,
}


@transaction.atomic
def payment_apply_state(*, payment: Payment, state: PaymentState) -> Payment:
    """Record what the provider says about a payment; any number of times, in any order.

    A succeeded payment stays succeeded whatever older news arrives later, and
    the invoice is marked paid exactly once: the payment row is locked while
    this runs, and only the change *to* succeeded adds the amount.
    """
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    invoice = (
        Invoice.objects.select_for_update().select_related("customer").get(pk=payment.invoice_id)
    )
    if state.reference != payment.reference:
        raise ValueError("provider state for another payment")
    if payment.status != PaymentStatus.SUCCEEDED:
        if state.status == providers.PaymentStatus.SUCCEEDED:
            if state.amount_minor != payment.amount_minor or state.currency != payment.currency:
                logger.error(
                    "provider amount differs from the payment's",
                    extra={"payment": payment.pk, "provider_amount": state.amount_minor},
                )
                payment.amount_minor, payment.currency = state.amount_minor, state.currency
            payment.card_brand, payment.card_last4 = state.card_brand[:30], state.card_last4[:4]
            _payment_succeeded(payment=payment, invoice=invoice)
        elif payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            if state.failure_message and state.failure_message != payment.failure_message:
                _log_payment("payment failed", payment, reason=state.failure_message[:300])
            payment.status = _PAYMENT_STATUS[state.status]
            if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
                metrics.payment_finished(provider=payment.provider, outcome=str(payment.status))
            payment.failure_message = state.failure_message[:300]
            if state.client_secret and not payment.client_secret:
                payment.client_secret = state.client_secret
            payment.save(update_fields=["status", "failure_message", "client_secret"])
    if payment.status == PaymentStatus.SUCCEEDED and state.refunds:
        _refunds_sync(payment=payment, invoice=invoice, refunds=state.refunds)
    return payment


def _payment_succeeded(*, payment: Payment, invoice: Invoice, notify: bool = True) -> None:
    """The money has arrived: the payment and (if open) the invoice say so. Rows are locked."""
    now = timezone.now()
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.failure_message = ""
    payment.starting_since = None
    payment.save()
    _log_payment("payment succeeded", payment, invoice=invoice.number)
    invoice.amount_paid_minor += payment.amount_minor
    fields = ["amount_paid_minor"]
    if invoice.status == InvoiceStatus.OPEN and invoice.amount_paid_minor >= invoice.total_minor:
        _transition(invoice, InvoiceStatus.PAID)
        invoice.paid_at = now
        fields += ["status", "paid_at"]
    else:
        logger.warning(
            "payment received on an invoice that is not open",
            extra={"invoice": invoice.number, "status": invoice.status},
        )
    invoice.save(update_fields=fields)
    metrics.payment_finished(provider=payment.provider, outcome="succeeded")
    # Other unfinished attempts can no longer be used.
    canceled = (
        Payment.objects.filter(invoice=invoice, status__in=OPEN_PAYMENT_STATUSES)
        .exclude(pk=payment.pk)
        .update(status=PaymentStatus.CANCELED)
    )
    metrics.payment_finished(provider=payment.provider, outcome="canceled", count=canceled)
    audit_record(
        action=AuditAction.PAYMENT_RECEIVED,
        actor=payment.started_by,
        customer=invoice.customer,
        data={
            "invoice": invoice.number,
            "receipt": payment.receipt_number,
            "amount": payment.amount_minor,
            "currency": payment.currency,
            "provider": payment.provider,
        },
    )
    _invoice_event(
        invoice=invoice, announce=_("Invoice %(number)s has been paid.") % _names(invoice)
    )
    if notify:
        _notify_invoice_readers(
            invoice=invoice,
            title=lambda: _("Payment received for invoice %(number)s") % _names(invoice),
            body=lambda: (
                _(
                    "We have received %(amount)s for invoice %(number)s. Thank you. "
                    "Your receipt is at the link below."
                )
                % _names(invoice, amount=payment.amount_display)
            ),
            url=reverse("billing:receipt", args=[payment.pk]),
        )


@transaction.atomic
def payment_record_manual(
    *,
    invoice: Invoice,
    actor: User | None,
    note: str = "",
    notify: bool = True,
    request: HttpRequest | None = None,
) -> Payment:
    """Staff record money received another way (e.g. a bank transfer) for the amount due."""
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_due_minor <= 0:
        raise BillingError(_("This invoice is not open for payment."), code="not_payable")
    payment = Payment.objects.create(
        invoice=invoice,
        provider=MANUAL_PROVIDER,
        amount_minor=invoice.amount_due_minor,
        currency=invoice.currency,
        note=note[:300],
        started_by=actor,
    )
    audit_record(
        action=AuditAction.PAYMENT_RECORDED,
        request=request,
        actor=actor,
        customer=invoice.customer,
        data={"invoice": invoice.number, "amount": payment.amount_minor, "note": note[:300]},
    )
    _payment_succeeded(payment=payment, invoice=invoice, notify=notify)
    return payment


# --- Provider notifications --------------------------------------------------------


def webhook_receive(*, payload: bytes, headers: Mapping[str, str]) -> str:
    """Act on a signed provider notification. Returns what was done, for the log.

    Raises :class:`providers.InvalidWebhook` for a bad signature and
    :class:`providers.ProviderError` when the provider cannot be asked for the
    payment's state (answer with an error: the provider sends it again).
    """
    provider = providers.get_provider()
    event = provider.parse_webhook(payload=payload, headers=headers)
    if ProcessedEvent.objects.filter(provider=provider.name, event_id=event.id).exists():
        return "duplicate"
    if not event.payment_reference:
        return "ignored"
    payment = Payment.objects.filter(
        provider=provider.name, reference=event.payment_reference
    ).first()
    if payment is None:
        return "unknown payment"
    # The event's own copy of the payment may be older than others already seen:
    # act on the provider's current state, so the order of arrival does not matter.
    try:
        state = provider.fetch_payment(reference=event.payment_reference)
    except providers.PaymentGone:
        return "unknown payment"
    return _webhook_apply(provider=provider, event=event, payment=payment, state=state)


@transaction.atomic
def _webhook_apply(
    *, provider: PaymentProvider, event: ProviderEvent, payment: Payment, state: PaymentState
) -> str:
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(
                provider=provider.name, event_id=event.id, type=event.type[:100], payment=payment
            )
    except IntegrityError:
        return "duplicate"
    payment_apply_state(payment=payment, state=state)
    return "processed"


# --- Refunds -----------------------------------------------------------------------


def refund_issue(
    *,
    invoice: Invoice,
    amount_minor: int,
    actor: User | None,
    reason: str = "",
    notify: bool = True,
    request: HttpRequest | None = None,
) -> Refund:
    """Pay back part or all of what was paid on an invoice, through the provider."""
    refund = _refund_request(
        invoice=invoice, amount_minor=amount_minor, actor=actor, reason=reason, request=request
    )
    return refund_send(refund=refund, notify=notify)


@transaction.atomic
def _refund_request(
    *,
    invoice: Invoice,
    amount_minor: int,
    actor: User | None,
    reason: str,
    request: HttpRequest | None,
) -> Refund:
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    in_flight = sum(
        invoice.refunds.filter(
            status__in=[RefundStatus.REQUESTED, RefundStatus.PENDING]
        ).values_list("amount_minor", flat=True)
    )
    refundable = invoice.refundable_minor - in_flight
    if amount_minor <= 0 or amount_minor > refundable:
        raise BillingError(
            _("A refund must be more than nothing and at most %(amount)s.")
            % {"amount": format_money(max(refundable, 0), invoice.currency)},
            code="amount",
        )
    payment = None
    for candidate in invoice.payments.filter(status=PaymentStatus.SUCCEEDED).order_by("-id"):
        taken = sum(
            candidate.refunds.exclude(status=RefundStatus.FAILED).values_list(
                "amount_minor", flat=True
            )
        )
        if candidate.amount_minor - taken >= amount_minor:
            payment = candidate
            break
    if payment is None:
        raise BillingError(
            _("No single payment on this invoice covers that amount; refund less at a time."),
            code="amount",
        )
    refund = Refund.objects.create(
        payment=payment,
        invoice=invoice,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=reason[:300],
        created_by=actor,
    )
    audit_record(
        action=AuditAction.REFUND_REQUESTED,
        request=request,
        actor=actor,
        customer=invoice.customer,
        data={"invoice": invoice.number, "amount": amount_minor, "reason": reason[:300]},
    )
    return refund


def refund_send(*, refund: Refund, notify: bool = True) -> Refund:
    """Ask the provider to make a requested refund; again after a timeout, with the same key."""
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    if refund.status != RefundStatus.REQUESTED:
        return refund
    payment = refund.payment
    if payment.provider == MANUAL_PROVIDER:
        # Paid outside the provider, paid back outside it: staff confirm it is done.
        state = RefundState(
            reference="", amount_minor=refund.amount_minor, status=providers.RefundStatus.SUCCEEDED
        )
    else:
        provider = _provider()
        try:
            state = provider.refund(
                payment_reference=payment.reference,
                amount_minor=refund.amount_minor,
                idempotency_key=refund.idempotency_key,
                metadata={"portal_refund": str(refund.public_id)},
            )
        except providers.ProviderUnavailable as exc:
            Refund.objects.filter(pk=refund.pk).update(failure_message=exc.message[:300])
            raise BillingError(
                _(
                    "The payment service did not answer. The refund is recorded as requested; "
                    "send it again from the list of refunds."
                ),
                code="unavailable",
            ) from exc
        except providers.ProviderError as exc:
            state = RefundState(
                reference="",
                amount_minor=refund.amount_minor,
                status=providers.RefundStatus.FAILED,
                failure_message=exc.message,
            )
    refund = _refund_settle(refund=refund, state=state, notify=notify)
    if refund.status == RefundStatus.FAILED:
        raise BillingError(
            _("The payment service refused the refund: %(reason)s")
            % {"reason": refund.failure_message or _("no reason given")},
            code="refused",
        )
    return refund


@transaction.atomic
def _refund_settle(*, refund: Refund, state: RefundState, notify: bool) -> Refund:
    invoice = (
        Invoice.objects.select_for_update().select_related("customer").get(pk=refund.invoice_id)
    )
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    _refund_apply(refund=refund, invoice=invoice, state=state, notify=notify)
    return refund


def _refunds_sync(*, payment: Payment, invoice: Invoice, refunds: tuple[RefundState, ...]) -> None:
    """Learn about refunds from the provider: ours finishing, and ones made there directly."""
    ours = list(Refund.objects.select_for_update().filter(payment=payment))
    by_reference = {r.reference: r for r in ours if r.reference}
    by_public_id = {str(r.public_id): r for r in ours}
    for state in refunds:
        refund = by_reference.get(state.reference) or by_public_id.get(state.portal_id)
        if refund is None:
            refund = Refund.objects.create(
                payment=payment,
                invoice=invoice,
                amount_minor=state.amount_minor,
                currency=payment.currency,
                reference=state.reference,
                external=True,
                status=RefundStatus.PENDING,
            )
            by_reference[state.reference] = refund
        _refund_apply(refund=refund, invoice=invoice, state=state, notify=True)


_REFUND_STATUS = {
    providers.RefundStatus.PENDING: RefundStatus.PENDING,
    providers.RefundStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
    providers.RefundStatus.FAILED: RefundStatus.FAILED,
    providers.RefundStatus.CANCELED: RefundStatus.FAILED,
}


def _refund_apply(*, refund: Refund, invoice: Invoice, state: RefundState, notify: bool) -> None:
    """Record a refund's state; the invoice counts it once, on its change to succeeded."""
    if state.reference and not refund.reference:
        refund.reference = state.reference
    if refund.status == RefundStatus.SUCCEEDED:
        refund.save(update_fields=["reference"])
        return
    new = _REFUND_STATUS[state.status]
    refund.status = new
    if new == RefundStatus.FAILED:
        refund.failure_message = (state.failure_message or refund.failure_message)[:300]
        refund.save(update_fields=["reference", "status", "failure_message"])
        audit_record(
            action=AuditAction.REFUND_FAILED,
            actor=refund.created_by,
            customer=invoice.customer,
            data={"invoice": invoice.number, "amount": refund.amount_minor},
        )
        return
    if new != RefundStatus.SUCCEEDED:
        refund.save(update_fields=["reference", "status"])
        return
    refund.succeeded_at = timezone.now()
    refund.failure_message = ""
    refund.save(update_fields=["reference", "status", "succeeded_at", "failure_message"])
    invoice.amount_refunded_minor += refund.amount_minor
    fields = ["amount_refunded_minor"]
    if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED):
        fully = invoice.amount_refunded_minor >= invoice.amount_paid_minor
        _transition(invoice, InvoiceStatus.REFUNDED if fully else InvoiceStatus.PARTIALLY_REFUNDED)
        fields.append("status")
    invoice.save(update_fields=fields)
    audit_record(
        action=AuditAction.REFUND_SUCCEEDED,
        actor=refund.created_by,
        customer=invoice.customer,
        data={
            "invoice": invoice.number,
            "amount": refund.amount_minor,
            "external": refund.external,
        },
    )
    _invoice_event(
        invoice=invoice,
        announce=_("%(amount)s of invoice %(number)s refunded.")
        % _names(invoice, amount=refund.amount_display),
    )
    if notify:
        _notify_invoice_readers(
            invoice=invoice,
            title=lambda: (
                _("Refund of %(amount)s for invoice %(number)s")
                % _names(invoice, amount=refund.amount_display)
            ),
            body=lambda: (
                _(
                    "We have refunded %(amount)s of what was paid for invoice %(number)s. "
                    "It can take a few days to appear on your statement."
                )
                % _names(invoice, amount=refund.amount_display)
            ),
            url=reverse("billing:invoice_detail", args=[invoice.number]),
        )


# --- Telling people ------------------------------------------------------------------


def _names(invoice: Invoice, **extra: str) -> dict[str, str]:
    """Values for messages, formatted in the active language."""
    return {
        "number": invoice.number or "",
        "amount": invoice.total_display,
        "due": formats.date_format(invoice.due_date, "DATE_FORMAT") if invoice.due_date else "",
        **extra,
    }


def _unavailable_message() -> str:
    return _(
        "The payment service did not answer. Nothing has been charged by this attempt; "
        "please try again in a few minutes."
    )


def _invoice_event(*, invoice: Invoice, announce: str) -> None:
    """Tell the customer's open pages (billing and admin members only) about the change."""
    live_event_emit(
        kind="invoice.updated",
        topic=f"invoice:{invoice.number}",
        customer=invoice.customer,
        permission=Permission.INVOICES_VIEW,
        data={"number": invoice.number, "status": invoice.status, "announce": announce},
    )


def _notify_invoice_readers(
    *,
    invoice: Invoice,
    title: Callable[[], str],
    body: Callable[[], str],
    url: str,
) -> None:
    """In-app notification and e-mail (a background task) to members who see invoices.

    ``title`` and ``body`` are called in each recipient's language.
    """
    memberships = Membership.objects.filter(customer=invoice.customer).select_related("user")
    for membership in memberships:
        if not membership.allows(Permission.INVOICES_VIEW):
            continue
        user = membership.user
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            notification_send(
                user=user,
                kind=NotificationKind.INVOICE,
                title=title(),
                body=body(),
                url=url,
                customer=invoice.customer,
            )
