"""The dashboard's cards. Each feature adds a provider; the shell only lays them out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


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
