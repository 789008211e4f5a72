from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from portal.billing.models import InvoiceLine
from portal.billing.money import format_money, round_minor, to_major, to_minor


def test_rounding_is_half_up_never_float() -> None:
    assert round_minor(Decimal("0.5")) == 1
    assert round_minor(Decimal("1.49")) == 1
    assert round_minor(Decimal("-0.5")) == -1
    assert to_minor(Decimal("12.345"), "EUR") == 1235
    assert to_minor(Decimal("100"), "JPY") == 100
    assert to_major(1234, "EUR") == Decimal("12.34")
    assert to_major(5, "eur") == Decimal("0.05")


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "net", "tax"),
    [
        ("1", 100_00, "19", 100_00, 19_00),
        ("3.5", 85_00, "19", 297_50, 56_53),  # 56.525 rounds up
        ("50", 10, "19", 5_00, 95),
        ("0.33", 1_00, "7", 33, 2),
    ],
)
def test_line_amounts(quantity: str, price: int, rate: str, net: int, tax: int) -> None:
    line = InvoiceLine(
        description="x", quantity=Decimal(quantity), unit_price_minor=price, tax_rate=Decimal(rate)
    )
    assert (line.net_minor, line.tax_amount_minor, line.total_minor) == (net, tax, net + tax)


def test_money_is_shown_in_the_active_language() -> None:
    with translation.override("en"):
        assert format_money(123456, "EUR") == "EUR\u00a01,234.56"
    with translation.override("de"):
        assert format_money(123456, "EUR") == "EUR\u00a01.234,56"
