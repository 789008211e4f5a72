"""Money as integer minor units (cents): rounding, conversion and display. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats

# ISO 4217 currencies without minor units; every other one we accept has two.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def round_minor(value: Decimal) -> int:
    """Round half away from zero to a whole number of minor units."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal("12.34")`` EUR -> 1234."""
    return round_minor(amount * (10 ** exponent(currency)))


def to_major(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """``1234, "EUR"`` -> ``"EUR 12.34"`` with the active language's separators."""
    places = exponent(currency)
    number = formats.number_format(
        to_major(amount_minor, currency), places, use_l10n=True, force_grouping=True
    )
    return f"{currency.upper()}\u00a0{number}"
