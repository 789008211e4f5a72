"""The dashboard's cards. Each feature adds a provider; the shell only lays them out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .fragments import cached_fragment, versions


@dataclass(frozen=True)
class Card:
    title: str
    body: str
    empty_text: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    link_url: str = ""
    link_text: str = ""
    # With both set, the card follows live events whose topic matches (see live.js).
    live_id: str = ""
    live_topics: str = ""


CardProvider = Callable[[HttpRequest], Card | None]
_providers: list[CardProvider] = []


def register_card(provider: CardProvider) -> CardProvider:
    """Decorator for a function ``(request) -> Card | None`` shown on the dashboard."""
    _providers.append(provider)
    return provider


def dashboard_cards(request: HttpRequest) -> list[Card]:
    """The cards of the signed-in user's dashboard, cached until their data changes."""
    from portal.accounts.request import signed_in_user
    from portal.customers.access import active_membership

    user = signed_in_user(request)
    membership = active_membership(request)
    customers = [membership.customer_id] if membership is not None else []
    key = ":".join(
        [
            "dashboard",
            str(user.pk),
            f"{membership.pk}-{membership.role}" if membership is not None else "-",
            get_language() or "",
            # Overdue invoices and "recently" depend on the day.
            timezone.localdate().isoformat(),
            versions(request, customers=customers, users=[user.id]),
        ]
    )
    return cached_fragment(key, lambda: _compute_cards(request))


def _compute_cards(request: HttpRequest) -> list[Card]:
    cards = [card for provider in _providers if (card := provider(request)) is not None]
    return cards or [_welcome_card()]


def _welcome_card() -> Card:
    return Card(
        title=str(_("Welcome")),
        body=str(
            _(
                "This is your portal. Your service requests, invoices and documents "
                "will appear here as soon as there is something to show."
            )
        ),
    )
