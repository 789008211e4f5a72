from __future__ import annotations

from django import template

from portal.billing.money import format_money

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    """``{{ invoice.total_minor|money:invoice.currency }}`` -> ``EUR 12.34``."""
    return format_money(int(amount_minor or 0), currency)
