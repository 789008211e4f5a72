"""Stripe as emulated by localstripe, for development, the demo and tests.

The emulator speaks Stripe's API with a few gaps. The one that matters here:
it cannot confirm a PaymentIntent with ``payment_method_data`` (a card token),
but it accepts the token's card (``card_...``) as the intent's payment method.
Everything else is the real provider's code.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from .base import CardDeclined, PaymentGone, PaymentState
from .stripe import StripeProvider


class LocalStripeProvider(StripeProvider):
    def confirm_with_card_token(
        self, *, reference: str, card_token: str, idempotency_key: str
    ) -> PaymentState:
        client = self._client()
        try:
            token = self._call("tokens.retrieve", client.v1.tokens.retrieve, card_token)
        except PaymentGone as exc:
            raise CardDeclined(
                _("The card details could not be used. Please enter them again."),
                code="invalid_token",
            ) from exc
        self._call(
            "payment_intents.update",
            client.v1.payment_intents.update,
            reference,
            params={"payment_method": token.card.id},
        )
        intent = self._call(
            "payment_intents.confirm",
            client.v1.payment_intents.confirm,
            reference,
            params={"expand": ["latest_charge", "payment_method"]},
            options={"idempotency_key": idempotency_key},
        )
        return self._state(intent)
