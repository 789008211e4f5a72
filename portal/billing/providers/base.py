"""The payment provider interface: gateway-neutral data in and out.

A provider starts a payment without moving money, confirms it with a card
token that the customer's browser got from the provider's own card fields,
reports a payment's current state, turns a signed notification into an event,
and refunds. Services depend on this module only; each gateway is one file
beside it, chosen by ``settings.PORTAL_PAYMENT_PROVIDER``.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


class ProviderError(Exception):
    """The provider refused a request. ``message`` is safe to show to a person."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, timed out or failed on its side.

    The outcome of the request is unknown: retry it with the same idempotency key.
    """


class CardDeclined(ProviderError):
    """The card was declined; the customer may try another one."""


class PaymentGone(ProviderError):
    """The provider does not know this payment (any more)."""


class InvalidWebhook(Exception):
    """A notification whose signature is missing, wrong or too old, or that is not JSON."""


class PaymentStatus(enum.StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class PaymentStart:
    """A payment the provider knows about, waiting for the customer's card."""

    reference: str
    client_secret: str
    status: PaymentStatus


@dataclass(frozen=True)
class RefundState:
    reference: str
    amount_minor: int
    status: RefundStatus
    #: Our refund's public id, when the refund was made through the portal.
    portal_id: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class PaymentState:
    """What the provider says about a payment right now."""

    reference: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    client_secret: str = ""
    failure_message: str = ""
    card_brand: str = ""
    card_last4: str = ""
    refunds: tuple[RefundState, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified notification: which payment it concerns, if any."""

    id: str
    type: str
    created: int
    payment_reference: str = ""


@dataclass(frozen=True)
class ClientConfig:
    """What the payment page needs to show the provider's card fields."""

    script_url: str
    publishable_key: str
    csp: Mapping[str, list[str]]


class PaymentProvider(ABC):
    """One payment gateway. Implementations must be safe to call from any thread."""

    #: Stored on every Payment and Refund row it handles.
    name: str = ""

    @property
    @abstractmethod
    def timeout(self) -> float:
        """Seconds after which a request is given up (its outcome unknown)."""

    @property
    @abstractmethod
    def configured(self) -> bool:
        """Whether the provider has what it needs (keys) to take payments."""

    @abstractmethod
    def client_config(self) -> ClientConfig: ...

    @abstractmethod
    def start_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> PaymentStart:
        """Create a payment for the amount without moving any money."""

    @abstractmethod
    def confirm_with_card_token(
        self, *, reference: str, card_token: str, idempotency_key: str
    ) -> PaymentState:
        """Charge the card behind ``card_token`` (from the provider's own card fields).

        Raises :class:`CardDeclined` when the card is refused.
        """

    @abstractmethod
    def fetch_payment(self, *, reference: str) -> PaymentState: ...

    @abstractmethod
    def refund(
        self,
        *,
        payment_reference: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundState:
        """Pay back part or all of a succeeded payment; ``metadata`` comes back in its state."""

    @abstractmethod
    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify a notification's signature and freshness; raise :class:`InvalidWebhook`."""


def payments_configured() -> bool:
    """Whether card payment is switched on (the provider has its keys)."""
    return get_provider().configured


@cache
def _provider_class(path: str) -> type[PaymentProvider]:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, PaymentProvider)):
        raise TypeError(f"{path} is not a PaymentProvider")
    return cls


def get_provider() -> PaymentProvider:
    """The configured provider, built from the current settings."""
    return _provider_class(settings.PORTAL_PAYMENT_PROVIDER)()
