from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.request import signed_in_user
from portal.core.fragments import cached_page
from portal.customers.access import customer_permission_required
from portal.customers.models import Customer, Membership
from portal.customers.roles import Permission

from . import selectors, services
from .forms import InvoiceFilterForm, PayForm
from .models import Invoice, InvoiceStatus
from .providers import base as providers

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
# Card attempts per person in a window: slows down anyone testing stolen cards.
PAY_ATTEMPTS = 10
PAY_WINDOW_SECONDS = 15 * 60


def _membership(request: HttpRequest) -> Membership:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership


def _issuer() -> list[str]:
    return list(settings.PORTAL_INVOICE_ISSUER)


def _customer(request: HttpRequest) -> Customer:
    return _membership(request).customer


@customer_permission_required(Permission.INVOICES_VIEW)
@require_safe
def invoice_list(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)

    def context() -> dict[str, Any]:
        form = InvoiceFilterForm(request.GET)
        status = form.cleaned_data["status"] if form.is_valid() else ""
        invoices = selectors.invoice_list(customer=customer, status=status)
        return {
            "customer": customer,
            "page": Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page")),
            "filter_form": form,
            "status": status,
            "outstanding": selectors.invoice_outstanding(customer=customer),
        }

    # Invoices move their customer's version (payments save the invoice they settle).
    return cached_page(request, "billing/invoice_list.html", context, customers=[customer.pk])


def _payable(request: HttpRequest, invoice: Invoice) -> bool:
    return (
        _membership(request).allows(Permission.INVOICES_PAY)
        and invoice.status == InvoiceStatus.OPEN
        and invoice.amount_due_minor > 0
    )


@customer_permission_required(Permission.INVOICES_VIEW)
@require_safe
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    invoice = selectors.invoice_get(customer=_customer(request), number=number)
    payable = _payable(request, invoice)
    provider = providers.get_provider()
    card_payment = payable and provider.configured
    client = provider.client_config() if card_payment else None
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "payments": selectors.invoice_payments(invoice=invoice),
        "payable": payable,
        "card_payment": client,
    }
    response = render(request, "billing/invoice_detail.html", context)
    if client is not None:
        # Only this page loads the provider's script and talks to its servers.
        response._csp_update = dict(client.csp)  # type: ignore[attr-defined]
    return response


@customer_permission_required(Permission.INVOICES_VIEW)
@require_safe
def invoice_print(request: HttpRequest, number: str) -> HttpResponse:
    invoice = selectors.invoice_get(customer=_customer(request), number=number)
    context = {"invoice": invoice, "lines": invoice.lines.all(), "issuer": _issuer()}
    return render(request, "billing/invoice_print.html", context)


def _outcome_json(invoice: Invoice, outcome: services.PaymentOutcome) -> dict[str, str]:
    data = {"status": outcome.status, "message": outcome.message}
    if outcome.status == "succeeded":
        data["message"] = _("Thank you: invoice %(number)s is paid.") % {"number": invoice.number}
    if outcome.status == "requires_action":
        data["client_secret"] = outcome.client_secret
        data["message"] = _("Your bank asks you to confirm this payment.")
    data["sync_url"] = reverse("billing:payment_sync", args=[invoice.number, outcome.payment.pk])
    return data


def _error_json(error: services.BillingError) -> JsonResponse:
    status = 503 if error.code == "unavailable" else 409
    return JsonResponse({"status": "error", "message": error.message}, status=status)


def _too_many_attempts(request: HttpRequest) -> bool:
    key = f"billing:pay-attempts:{request.user.pk}"
    cache.add(key, 0, PAY_WINDOW_SECONDS)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, PAY_WINDOW_SECONDS)
        attempts = 1
    return attempts > PAY_ATTEMPTS


@customer_permission_required(Permission.INVOICES_PAY)
@require_POST
@never_cache
def invoice_pay(request: HttpRequest, number: str) -> JsonResponse:
    """The payment form's submission (by script): the card token from the provider's fields."""
    invoice = selectors.invoice_get(customer=_customer(request), number=number)
    form = PayForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {
                "status": "error",
                "message": _("The card details could not be used. Please enter them again."),
            },
            status=400,
        )
    if _too_many_attempts(request):
        return JsonResponse(
            {
                "status": "error",
                "message": _("Too many payment attempts. Please wait a few minutes."),
            },
            status=429,
        )
    try:
        outcome = services.payment_pay_with_card(
            invoice=invoice, user=signed_in_user(request), card_token=form.cleaned_data["token"]
        )
    except services.BillingError as error:
        return _error_json(error)
    return JsonResponse(_outcome_json(invoice, outcome))


@customer_permission_required(Permission.INVOICES_PAY)
@require_POST
@never_cache
def payment_sync(request: HttpRequest, number: str, payment_id: int) -> JsonResponse:
    """After the card holder confirmed with their bank: settle from the provider's state."""
    invoice = selectors.invoice_get(customer=_customer(request), number=number)
    payment = selectors.payment_get_for_invoice(invoice=invoice, payment_id=payment_id)
    try:
        payment = services.payment_sync(payment=payment)
    except services.BillingError as error:
        return _error_json(error)
    return JsonResponse(_outcome_json(invoice, services.payment_outcome(payment)))


@customer_permission_required(Permission.INVOICES_VIEW)
@require_safe
def payment_list(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    page = Paginator(selectors.payment_list(customer=customer), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "billing/payment_list.html", {"customer": customer, "page": page})


@customer_permission_required(Permission.INVOICES_VIEW)
@require_safe
def receipt(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = selectors.payment_get_for_receipt(customer=_customer(request), payment_id=payment_id)
    return render(request, "billing/receipt.html", {"payment": payment, "invoice": payment.invoice})


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's notifications. 400 for a bad signature; 503 makes Stripe send it again."""
    if providers.get_provider().name != "stripe":
        return HttpResponse(status=404)
    try:
        result = services.webhook_receive(payload=request.body, headers=request.headers)
    except providers.InvalidWebhook as exc:
        logger.warning("webhook refused", extra={"reason": str(exc)[:200]})
        return HttpResponse(status=400)
    except providers.ProviderError:
        return HttpResponse(status=503)
    logger.info("webhook", extra={"result": result})
    return HttpResponse(status=200)
