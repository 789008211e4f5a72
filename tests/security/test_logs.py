"""What the logs say, and what they never say (issue 11, item 6; ASVS V16).

One realistic visit captures every log record the portal writes, formatted as
production formats them: a failed and a successful sign-in with a password, a
refused page, an API call with a token, a password-reset link, a declined and
a successful card payment against localstripe and the provider's signed
webhook. The security events must be there with who and what; no password,
session id, token, reset key, webhook secret, client secret or card number
may be anywhere; and no value, however it is spelt, can start a line of its own.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from portal.billing.tests.factories import make_invoice
from portal.core.logging import JsonFormatter
from portal.core.tests.factories import TEST_PASSWORD
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.tokens.models import TokenScope
from portal.tokens.services import token_create
from tests import localstripe
from tests.localstripe import WEBHOOK_PATH, WEBHOOK_SECRET, StripeTest

pytestmark = pytest.mark.django_db

# The emulator's fixtures, for this module.
localstripe_server = localstripe.localstripe_server
stripe_test = localstripe.stripe_test

VISA = "4242424242424242"
DECLINED = "4000000000000341"
WRONG_PASSWORD = "Tr0ub4dor&3-not-mine"  # noqa: S105


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(record) for record in caplog.records]


def _entries(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def test_security_events_are_logged_and_no_secret_is(
    client: Client,
    stripe_test: StripeTest,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    acme = make_customer("Acme Ltd")
    billing = make_member(acme, Role.BILLING)
    invoice = make_invoice(acme, amount_minor=42_00)
    _, api_token = token_create(
        user=billing, customer=acme, name="script", scope=TokenScope.READ, expires_in_days=1
    )

    # Sign-in: a wrong password, a password typed into the address field, the right one.
    client.post("/accounts/login/", {"login": billing.email, "password": WRONG_PASSWORD})
    client.post("/accounts/login/", {"login": TEST_PASSWORD, "password": TEST_PASSWORD})
    assert client.post("/accounts/login/", {"login": billing.email, "password": TEST_PASSWORD})[
        "Location"
    ]
    session_id = client.cookies["sessionid"].value

    # A page the billing role may not open.
    assert client.get("/requests/new/").status_code in (403, 404)
    denied_page = client.get("/documents/upload/")
    assert denied_page.status_code in (403, 405)
    assert client.post("/customer/members/", {}).status_code == 403

    # The API with a token.
    api = Client(headers={"Authorization": f"Bearer {api_token}"})
    assert api.get("/api/v1/me").status_code == 200
    assert (
        Client(headers={"Authorization": f"Bearer {api_token}x"}).get("/api/v1/me").status_code
        == 401
    )

    # A password-reset link (the key is in its path).
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/accounts/password/reset/", {"email": billing.email})
    [link] = re.findall(
        r"http://testserver(/accounts/password/reset/key/\S+)", str(mail.outbox[-1].body)
    )
    reset_key = link.rstrip("/").rsplit("/", 1)[1].split("-", 1)[1]
    assert len(reset_key) > 20
    Client().get(link)

    # Card payments: declined, then paid; then the provider's signed notification.
    pay = f"/billing/invoices/{invoice.number}/pay/"
    declined = client.post(pay, {"token": stripe_test.card_token(DECLINED)}).json()
    assert declined["status"] == "declined"
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(pay, {"token": stripe_test.card_token(VISA)}).json()
    assert paid["status"] == "succeeded"
    client_secrets = [intent.client_secret for intent in stripe_test.intents()]
    assert len(client_secrets) == 2  # the declined attempt and the paid one
    [event] = stripe_test.events("payment_intent.succeeded")
    body, headers = stripe_test.signed(event)
    webhook = Client().post(
        WEBHOOK_PATH,
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": headers["Stripe-Signature"]},
    )
    assert webhook.status_code == 200

    lines = _lines(caplog)
    entries = _entries(lines)

    def logged(logger: str, message: str, **fields: Any) -> bool:
        return any(
            e["logger"] == logger
            and e["message"].startswith(message)
            and all(e.get(k) == v for k, v in fields.items())
            for e in entries
        )

    # The events, with who.
    assert logged("portal.audit", "audit account.sign_in_failed", subject_user_id=billing.pk)
    assert logged("portal.audit", "audit account.sign_in", actor_id=billing.pk)
    assert logged("portal.security", "access denied", user_id=billing.pk, status=403)
    assert logged("portal.security", "access denied", status=401)  # the refused token
    assert logged("portal.billing.services", "payment failed", customer_id=acme.pk, amount=42_00)
    assert logged(
        "portal.billing.services", "payment succeeded", customer_id=acme.pk, invoice=invoice.number
    )
    assert logged("portal.audit", "audit billing.payment_received", customer_id=acme.pk)
    assert logged("portal.billing.views", "webhook", result="processed")

    # The secrets, nowhere: not in a formatted line, not on stdout or stderr.
    output = capfd.readouterr()
    everything = "\n".join([*lines, output.out, output.err])
    secrets = {
        "password": TEST_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "session id": session_id,
        "API token": api_token,
        "API token without its prefix": api_token[5:],
        "password-reset key": reset_key,
        "webhook secret": WEBHOOK_SECRET,
        "first payment's client secret": client_secrets[0],
        "second payment's client secret": client_secrets[1],
        "card number": VISA,
        "declined card number": DECLINED,
    }
    leaked = [name for name, secret in secrets.items() if secret in everything]
    assert leaked == []
    # Every record is one line of JSON.
    assert all(len(line.splitlines()) == 1 for line in lines)


FORGED = '{"level": "INFO", "logger": "portal.audit", "message": "audit account.sign_in"}'


@pytest.mark.parametrize("breaker", ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b"])
def test_a_name_with_a_line_break_cannot_forge_a_log_line(
    client: Client, caplog: pytest.LogCaptureFixture, breaker: str
) -> None:
    caplog.set_level(logging.INFO)
    acme = make_customer("Acme Ltd")
    name = f"Eve{breaker}{FORGED}"
    # In a person's name (written to the audit log when an admin invites them) ...
    admin = make_member(acme, Role.ADMIN, first_name=name)
    logging.getLogger("portal.audit").info("audit test", extra={"person": admin.first_name})
    # ... in a path, in a sign-in address and in a request id.
    client.get(f"/pages/x{breaker}{FORGED}/")
    client.post("/accounts/login/", {"login": name, "password": name})
    client.get("/healthz", headers={"X-Request-ID": f"abcdefgh{breaker}{FORGED}"})

    lines = _lines(caplog)
    assert lines
    for line in lines:
        assert len(line.splitlines()) == 1, line
        assert "\r" not in line and "\n" not in line
    text = "\n".join(lines)
    assert len(text.splitlines()) == len(lines)  # nothing starts a line of its own
    entries = _entries(lines)
    assert any(e.get("person") == name for e in entries)  # logged whole, escaped
    assert any(FORGED in (e.get("path") or "") for e in entries), [e.get("path") for e in entries]
