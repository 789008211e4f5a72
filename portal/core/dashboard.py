"""The dashboard's cards. Each feature adds a provider; the shell only lays them out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .fragments import latest_fragment, versions


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
    """Decorator for a function ``(request) -> Card | None`` shown on the dashboard.

    A card shows the active customer's data as the member's role may see it, the
    same for every member with that role: the cards are cached per customer and
    role (see ``dashboard_cards_html``). Nothing of the user's own may go on one.
    """
    _providers.append(provider)
    return provider


def dashboard_cards_key(request: HttpRequest) -> str:
    """Where the dashboard's cards of the signed-in user's customer and role are kept
    (``latest_fragment``: the customer's version is checked against the copy). Once per
    request: the view names it for the page's round trip, the cards read it again."""
    from portal.customers.access import active_membership

    known: str | None = request.__dict__.get("_dashboard_cards_key")
    if known is None:
        membership = active_membership(request)
        known = ":".join(
            [
                "dashboard-cards",
                f"{membership.customer_id}-{membership.role}" if membership is not None else "-",
                get_language() or "",
                # Overdue invoices and "recently" depend on the day.
                timezone.localdate().isoformat(),
            ]
        )
        request.__dict__["_dashboard_cards_key"] = known
    return known


def dashboard_cards_html(request: HttpRequest) -> str:
    """The signed-in user's dashboard cards as HTML, cached until the customer's data changes.

    A part of the dashboard page (``cached_page``): a change of the customer's data
    renders these again, not the page around them, and once for all the members
    who share a role (after a status change, once per role, not once per member).
    """
    from portal.customers.access import active_membership

    membership = active_membership(request)
    customers = [membership.customer_id] if membership is not None else []

    def render_cards() -> str:
        return render_to_string("core/_dashboard_cards.html", {"cards": dashboard_cards(request)})

    return latest_fragment(
        request, dashboard_cards_key(request), versions(request, customers=customers), render_cards
    )


def dashboard_cards(request: HttpRequest) -> list[Card]:
    """The cards of the signed-in user's dashboard, from every provider."""
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
