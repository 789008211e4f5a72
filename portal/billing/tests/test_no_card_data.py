"""No card number ever reaches the portal: not in a form of ours, the database or a log.

The scanner looks for Luhn-valid card numbers as they would be written: 13 to
19 digits in a row, or in groups of four (or Amex's 4-6-5) split by spaces or
dashes. Other digits that merely sit side by side (two timestamps in a raw
database page, say) do not count.
"""

from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django import forms as django_forms
from django.db import connection
from django.test import Client

from portal.billing import forms
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from tests.localstripe import StripeTest

from .factories import make_invoice

CANDIDATE = re.compile(
    rb"(?<![0-9A-Za-z])"
    rb"(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})"
    rb"(?![0-9A-Za-z])"
)
CARDS = ("4242424242424242", "4000000000000341", "4000002500003155")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers_in(data: bytes) -> list[str]:
    found = []
    for match in CANDIDATE.finditer(data):
        digits = re.sub(rb"[ -]", b"", match.group()).decode()
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(digits)
    return found


def test_the_scanner_finds_card_numbers() -> None:
    assert card_numbers_in(b"paid with 4242 4242 4242 4242.") == ["4242424242424242"]
    assert card_numbers_in(b'{"pan": "4000-0000-0000-0341"}') == ["4000000000000341"]
    assert card_numbers_in(b"3782 822463 10005") == ["378282246310005"]
    assert card_numbers_in(b"4242424242424241 and 1795625243 and pi_4242424242424242x") == []
    assert card_numbers_in(b"03.513486 2026-11-25 17:04") == []


def _database_text() -> bytes:
    """Every value of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                chunks.append(" | ".join(str(value) for value in row))
    return "\n".join(chunks).encode()


def _database_files() -> bytes:
    """The SQLite database's own files, deleted pages and write-ahead log included."""
    if connection.vendor != "sqlite":
        return b""
    name = Path(connection.settings_dict["NAME"])
    return b"".join(p.read_bytes() for p in (name, Path(f"{name}-wal")) if p.exists())


@pytest.mark.django_db(transaction=True)
def test_no_card_number_in_forms_database_or_logs(
    client: Client, stripe_test: StripeTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    acme = make_customer("Acme Ltd")
    billing = make_member(acme, Role.BILLING)
    client.force_login(billing)
    declined, paid, confirmed = (make_invoice(acme) for _ in range(3))
    page = client.get(f"/billing/invoices/{paid.number}/").content.decode()

    # Card numbers go from the provider's fields to the provider; the portal gets tokens.
    for invoice, card in ((declined, CARDS[1]), (paid, CARDS[0]), (confirmed, CARDS[2])):
        client.post(
            f"/billing/invoices/{invoice.number}/pay/", {"token": stripe_test.card_token(card)}
        )

    # Our payment form has no input of its own but the CSRF token: the card fields are
    # the provider's, mounted into the empty #card-element by its script.
    form_html = page[
        page.index('id="card-form"') : page.index("</form>", page.index('id="card-form"'))
    ]
    names = re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', form_html)
    assert names == ["csrfmiddlewaretoken"]
    assert '<div id="card-element" class="card-element" role="group"' in form_html

    # No form class of ours has a field that could hold card data.
    card_words = re.compile(r"card|number|cvc|cvv|pan|expir|exp_", re.IGNORECASE)
    for _name, form in inspect.getmembers(forms, inspect.isclass):
        if issubclass(form, django_forms.BaseForm) and form.__module__ == forms.__name__:
            fields: dict[str, Any] = form.base_fields  # type: ignore[attr-defined]
            assert not [f for f in fields if card_words.search(f)], form

    assert card_numbers_in(_database_text()) == []
    assert card_numbers_in(_database_files()) == []
    assert card_numbers_in(caplog.text.encode()) == []
    # ... while the scans did see what happened.
    assert b"INV-" in _database_text() and "/pay/" in caplog.text
