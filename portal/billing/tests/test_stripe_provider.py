"""The real Stripe provider's requests, checked against a recording stand-in.

localstripe cannot confirm with a card token (its provider bridges that), so
what the production provider sends for it is checked here on the wire.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from portal.billing.providers.base import PaymentStatus
from portal.billing.providers.stripe import StripeProvider
from tests.server import free_port

INTENT = {
    "id": "pi_123",
    "object": "payment_intent",
    "amount": 11900,
    "currency": "eur",
    "status": "succeeded",
    "client_secret": "pi_123_secret_abc",
    "last_payment_error": None,
    "latest_charge": {"id": "ch_1", "object": "charge", "amount_refunded": 0},
    "payment_method": {
        "id": "pm_1",
        "object": "payment_method",
        "card": {"brand": "visa", "last4": "4242"},
    },
}


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            seen.append({"path": self.path, "form": parse_qs(body), "headers": dict(self.headers)})
            content = json.dumps(INTENT).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_confirming_with_a_card_token(
    recorder: tuple[str, list[dict[str, Any]]], settings: Any
) -> None:
    url, seen = recorder
    settings.STRIPE_SECRET_KEY = "sk_test_recorder"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_recorder"
    settings.PORTAL_STRIPE_API_BASE = url
    settings.PORTAL_STRIPE_NETWORK_RETRIES = 0
    state = StripeProvider().confirm_with_card_token(
        reference="pi_123", card_token="tok_visa123", idempotency_key="portal-payment-x-tok"
    )
    [request] = seen
    assert request["path"] == "/v1/payment_intents/pi_123/confirm"
    assert request["form"]["payment_method_data[type]"] == ["card"]
    assert request["form"]["payment_method_data[card][token]"] == ["tok_visa123"]
    assert request["form"]["use_stripe_sdk"] == ["true"]
    assert request["headers"]["Idempotency-Key"] == "portal-payment-x-tok"
    assert request["headers"]["Authorization"] == "Bearer sk_test_recorder"
    assert state.status == PaymentStatus.SUCCEEDED
    assert (state.amount_minor, state.currency) == (11900, "EUR")
    assert (state.card_brand, state.card_last4) == ("visa", "4242")


def test_stripes_own_script_gets_stripes_recommended_policy(settings: Any) -> None:
    settings.PORTAL_STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_live_x"
    config = StripeProvider().client_config()
    assert config.script_url == "https://js.stripe.com/v3/"
    assert "https://js.stripe.com" in config.csp["script-src"]
    assert "https://hooks.stripe.com" in config.csp["frame-src"]
    assert config.csp["connect-src"] == ["https://api.stripe.com"]
