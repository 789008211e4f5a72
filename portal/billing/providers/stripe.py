"""Stripe through the official SDK: PaymentIntents, card tokens from Stripe.js, signed webhooks.

Card data never reaches the portal: the browser sends it from Stripe's own card
fields to Stripe and gives us only a token (``tok_...``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from .base import (
    CardDeclined,
    ClientConfig,
    InvalidWebhook,
    PaymentGone,
    PaymentProvider,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    ProviderError,
    ProviderEvent,
    ProviderUnavailable,
    RefundState,
    RefundStatus,
)

logger = logging.getLogger(__name__)

# Stripe's own recommendation for pages that use Stripe.js and 3-D Secure.
STRIPE_CSP = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}
WEBHOOK_TOLERANCE_SECONDS = 300

_clients: dict[tuple[str, str, float, int], stripe.StripeClient] = {}
_clients_lock = threading.Lock()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _unavailable() -> ProviderUnavailable:
    return ProviderUnavailable(
        _(
            "The payment service did not answer. Nothing has been charged by this attempt; "
            "please try again in a few minutes."
        ),
        code="unavailable",
    )


class StripeProvider(PaymentProvider):
    name = "stripe"

    @property
    def timeout(self) -> float:
        return float(settings.PORTAL_STRIPE_TIMEOUT)

    @property
    def configured(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)

    # --- plumbing ---------------------------------------------------------------

    def _client(self) -> stripe.StripeClient:
        api_base = settings.PORTAL_STRIPE_API_BASE
        key = (
            settings.STRIPE_SECRET_KEY,
            api_base,
            self.timeout,
            settings.PORTAL_STRIPE_NETWORK_RETRIES,
        )
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                options: dict[str, Any] = {}
                if api_base:
                    options["base_addresses"] = {"api": api_base}
                client = stripe.StripeClient(
                    settings.STRIPE_SECRET_KEY,
                    http_client=stripe.RequestsClient(timeout=self.timeout),
                    max_network_retries=settings.PORTAL_STRIPE_NETWORK_RETRIES,
                    **options,
                )
                _clients[key] = client
        return client

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the SDK and translate its errors into the provider's."""
        try:
            return func(*args, **kwargs)
        except stripe.CardError as exc:
            raise CardDeclined(
                exc.user_message or _("Your card was declined."), code=exc.code or "card_declined"
            ) from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            logger.warning("stripe unavailable", extra={"call": what, "error": type(exc).__name__})
            raise _unavailable() from exc
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404 and not exc.param:
                raise PaymentGone(_("The payment service no longer knows this payment.")) from exc
            logger.error("stripe refused a request", extra={"call": what, "code": exc.code})
            raise ProviderError(
                _("The payment service refused the request."), code=exc.code or ""
            ) from exc
        except stripe.StripeError as exc:
            if exc.http_status is None or exc.http_status >= 500:
                logger.warning("stripe failed", extra={"call": what, "status": exc.http_status})
                raise _unavailable() from exc
            logger.error("stripe error", extra={"call": what, "status": exc.http_status})
            raise ProviderError(
                _("The payment service refused the request."), code=exc.code or ""
            ) from exc

    # --- the interface ------------------------------------------------------------

    def client_config(self) -> ClientConfig:
        script_url = settings.PORTAL_STRIPE_JS_URL
        if _origin(script_url) == "https://js.stripe.com":
            csp = STRIPE_CSP
        else:
            # An emulator serves both the script and the API it talks to.
            origins = {_origin(script_url)}
            if settings.PORTAL_STRIPE_API_BASE:
                origins.add(_origin(settings.PORTAL_STRIPE_API_BASE))
            csp = {
                "script-src": sorted(origins),
                "frame-src": sorted(origins),
                "connect-src": sorted(origins),
            }
        return ClientConfig(
            script_url=script_url, publishable_key=settings.STRIPE_PUBLISHABLE_KEY, csp=csp
        )

    def start_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> PaymentStart:
        intent = self._call(
            "payment_intents.create",
            self._client().v1.payment_intents.create,
            params={
                "amount": amount_minor,
                "currency": currency.lower(),
                "payment_method_types": ["card"],
                "metadata": dict(metadata),
            },
            options={"idempotency_key": idempotency_key},
        )
        return PaymentStart(
            reference=intent.id,
            client_secret=intent.client_secret,
            status=PaymentStatus(intent.status),
        )

    def confirm_with_card_token(
        self, *, reference: str, card_token: str, idempotency_key: str
    ) -> PaymentState:
        intent = self._call(
            "payment_intents.confirm",
            self._client().v1.payment_intents.confirm,
            reference,
            params={
                "payment_method_data": {"type": "card", "card": {"token": card_token}},
                # A bank's 3-D Secure check then comes back as a next action that
                # Stripe.js handles in the page, instead of a redirect.
                "use_stripe_sdk": True,
                "expand": ["latest_charge", "payment_method"],
            },
            options={"idempotency_key": idempotency_key},
        )
        return self._state(intent)

    def fetch_payment(self, *, reference: str) -> PaymentState:
        intent = self._call(
            "payment_intents.retrieve",
            self._client().v1.payment_intents.retrieve,
            reference,
            params={"expand": ["latest_charge", "payment_method"]},
        )
        return self._state(intent)

    def refund(
        self,
        *,
        payment_reference: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundState:
        refund = self._call(
            "refunds.create",
            self._client().v1.refunds.create,
            params={
                "payment_intent": payment_reference,
                "amount": amount_minor,
                "metadata": dict(metadata),
            },
            options={"idempotency_key": idempotency_key},
        )
        return _refund_state(refund)

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        signature = headers.get("Stripe-Signature", "")
        if not signature or not settings.STRIPE_WEBHOOK_SECRET:
            raise InvalidWebhook("no signature")
        try:
            event = stripe.Webhook.construct_event(
                payload,
                signature,
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=WEBHOOK_TOLERANCE_SECONDS,
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidWebhook(str(exc)) from exc
        obj = event.data.object
        kind = getattr(obj, "object", "")
        reference = ""
        if kind == "payment_intent":
            reference = obj.id
        elif kind in {"charge", "refund"}:
            reference = _id(getattr(obj, "payment_intent", None))
        return ProviderEvent(
            id=event.id, type=event.type, created=int(event.created), payment_reference=reference
        )

    # --- reading Stripe's objects ---------------------------------------------------

    def _state(self, intent: Any) -> PaymentState:
        status = PaymentStatus(intent.status)
        charge = intent.latest_charge if not isinstance(intent.latest_charge, str) else None
        failure = ""
        error = getattr(intent, "last_payment_error", None)
        if error is not None and status == PaymentStatus.REQUIRES_PAYMENT_METHOD:
            failure = getattr(error, "message", "") or _("The payment failed.")
        brand, last4 = _card(intent.payment_method)
        refunds: tuple[RefundState, ...] = ()
        if charge is not None and int(getattr(charge, "amount_refunded", 0) or 0) > 0:
            refunds = self._refunds(intent.id)
        return PaymentState(
            reference=intent.id,
            status=status,
            amount_minor=int(intent.amount),
            currency=str(intent.currency).upper(),
            client_secret=intent.client_secret or "",
            failure_message=failure,
            card_brand=brand,
            card_last4=last4,
            refunds=refunds,
        )

    def _refunds(self, reference: str) -> tuple[RefundState, ...]:
        listing = self._call(
            "refunds.list",
            self._client().v1.refunds.list,
            params={"payment_intent": reference, "limit": 100},
        )
        return tuple(_refund_state(refund) for refund in listing.data)


def _id(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(getattr(value, "id", ""))


def _card(payment_method: Any) -> tuple[str, str]:
    """Brand and last four digits, for receipts; never more of the number."""
    if payment_method is None or isinstance(payment_method, str):
        return "", ""
    card = getattr(payment_method, "card", None)
    if card is not None and not isinstance(card, str):
        # A PaymentMethod: the card's public details are under .card
        return str(getattr(card, "brand", "") or ""), str(getattr(card, "last4", "") or "")
    # A legacy Card object (card_...) carries them itself.
    return str(getattr(payment_method, "brand", "") or ""), str(
        getattr(payment_method, "last4", "") or ""
    )


def _refund_state(refund: Any) -> RefundState:
    metadata = getattr(refund, "metadata", None) or {}
    portal_id = metadata.get("portal_refund", "") if hasattr(metadata, "get") else ""
    return RefundState(
        reference=refund.id,
        amount_minor=int(refund.amount),
        status=_refund_status(refund.status),
        portal_id=str(portal_id or ""),
        failure_message=str(getattr(refund, "failure_reason", "") or ""),
    )


def _refund_status(value: str | None) -> RefundStatus:
    try:
        return RefundStatus(value or "pending")
    except ValueError:
        # "requires_action" and any future state: not done yet.
        return RefundStatus.PENDING
