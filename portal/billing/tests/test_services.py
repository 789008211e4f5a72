from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from portal.billing import services
from portal.billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus, Refund
from portal.core.models import AuditAction, AuditEvent
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import LiveEvent, Notification

from .factories import make_invoice

pytestmark = pytest.mark.django_db


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads at once; each uses its own connection."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_issuing_numbers_dates_totals_and_tells_who_sees_invoices(
    django_capture_on_commit_callbacks: Any,
) -> None:
    acme = make_customer("Acme Ltd")
    admin = make_member(acme, Role.ADMIN)
    billing = make_member(acme, Role.BILLING)
    member = make_member(acme, Role.MEMBER)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(acme, amount_minor=100_00, tax_rate="19")
    assert re.fullmatch(r"INV-\d{4}-000001", invoice.number or "")
    assert invoice.status == InvoiceStatus.OPEN
    totals = (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor)
    assert totals == (100_00, 19_00, 119_00)
    assert invoice.issue_date == timezone.localdate()
    assert invoice.due_date == invoice.issue_date + timedelta(days=14)
    assert invoice.bill_to.startswith("Acme Ltd")
    assert AuditEvent.objects.filter(action=AuditAction.INVOICE_ISSUED, customer=acme).exists()
    event = LiveEvent.objects.get(kind="invoice.updated")
    assert event.topic == f"invoice:{invoice.number}"
    assert event.permission == "invoices.view" and event.customer_id == acme.pk
    notified = set(Notification.objects.values_list("user__email", flat=True))
    assert notified == {admin.email, billing.email}
    assert member.email not in {m.to[0] for m in mail.outbox}
    assert {m.to[0] for m in mail.outbox} == {admin.email, billing.email}


def test_numbers_run_per_year_without_gaps() -> None:
    acme = make_customer()
    numbers = [make_invoice(acme).number for _ in range(3)]
    assert [n[-6:] for n in numbers if n] == ["000001", "000002", "000003"]
    draft = make_invoice(acme, issue=False)
    next_year = date(timezone.localdate().year + 1, 1, 5)
    issued = services.invoice_issue(invoice=draft, actor=None, issue_date=next_year)
    assert issued.number == f"INV-{next_year.year}-000001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuing_never_repeats_a_number() -> None:
    acme = make_customer()
    drafts = [make_invoice(acme, issue=False) for _ in range(6)]
    numbers = _in_threads(6, lambda i: services.invoice_issue(invoice=drafts[i], actor=None).number)
    assert sorted(n[-6:] for n in numbers) == [f"{i:06d}" for i in range(1, 7)]


def test_drafts_must_be_complete_and_states_change_only_as_allowed() -> None:
    acme = make_customer()
    with pytest.raises(services.BillingError):
        services.invoice_create(customer=acme, lines=[], created_by=None)
    odd = make_invoice(acme, issue=False)
    Invoice.objects.filter(pk=odd.pk).update(currency="e1")  # as typed in the back office
    with pytest.raises(services.BillingError, match="three letters"):
        services.invoice_issue(invoice=odd, actor=None)
    free = make_invoice(acme, amount_minor=0, issue=False)
    with pytest.raises(services.BillingError, match="more than nothing"):
        services.invoice_issue(invoice=free, actor=None)
    invoice = make_invoice(acme)
    services.invoice_void(invoice=invoice, actor=None, reason="typo")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    with pytest.raises(services.BillingError, match="cannot become"):
        services.invoice_issue(invoice=invoice, actor=None)
    paid = make_invoice(acme)
    services.payment_record_manual(invoice=paid, actor=None)
    with pytest.raises(services.BillingError, match="refund it instead"):
        services.invoice_void(invoice=paid, actor=None)


def test_a_fee_is_invoiced_once_per_source() -> None:
    acme = make_customer()
    globex = make_customer("Globex")
    kwargs: dict[str, Any] = {
        "description": "Express handling",
        "amount_minor": 25_00,
        "currency": "EUR",
        "source_reference": "servicedesk:SR-2026-000001",
        "created_by": None,
    }
    first = services.invoice_create_for_fee(customer=acme, **kwargs)
    again = services.invoice_create_for_fee(customer=acme, **kwargs)
    assert first.pk == again.pk and Invoice.objects.count() == 1
    assert first.status == InvoiceStatus.OPEN and first.total_minor == 25_00
    assert first.lines.get().description == "Express handling"
    with pytest.raises(ValueError, match="another customer"):
        services.invoice_create_for_fee(customer=globex, **kwargs)
    with pytest.raises(services.BillingError):
        services.invoice_create_for_fee(customer=acme, **{**kwargs, "amount_minor": 0})


@pytest.mark.django_db(transaction=True)
def test_a_fee_invoiced_concurrently_is_still_one_invoice() -> None:
    acme = make_customer()
    pks = _in_threads(
        4,
        lambda i: (
            services.invoice_create_for_fee(
                customer=acme,
                description="Fee",
                amount_minor=10_00,
                currency="EUR",
                source_reference="servicedesk:SR-2026-000002",
                created_by=None,
            ).pk
        ),
    )
    assert len(set(pks)) == 1
    assert Invoice.objects.count() == 1


def test_money_received_another_way_and_refunded() -> None:
    acme = make_customer()
    make_member(acme, Role.BILLING)
    invoice = make_invoice(acme, amount_minor=50_00)
    payment = services.payment_record_manual(invoice=invoice, actor=None, note="transfer 123")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid_minor == 50_00
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider == "manual"
    with pytest.raises(services.BillingError, match="not open"):
        services.payment_record_manual(invoice=invoice, actor=None)

    services.refund_issue(invoice=invoice, amount_minor=20_00, actor=None)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_REFUNDED
    with pytest.raises(services.BillingError, match="at most EUR"):
        services.refund_issue(invoice=invoice, amount_minor=30_01, actor=None)
    services.refund_issue(invoice=invoice, amount_minor=30_00, actor=None)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED and invoice.amount_refunded_minor == 50_00
    assert Refund.objects.filter(invoice=invoice).count() == 2
    assert Payment.objects.filter(invoice=invoice).count() == 1
