"""Fixtures for tests against localstripe, the local Stripe emulator.

``localstripe_server`` (session) runs one emulator on a free loopback port.
``stripe_test`` points the portal's settings at it with test keys, clears its
data, and sends its webhooks nowhere; ``stripe_webhooks`` sends them to the
live portal server instead, signed with the portal's webhook secret.

Import the fixtures into a test module or conftest to use them.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe

from portal.billing.emulator import LocalStripe
from tests.server import PortalServer, free_port

WEBHOOK_SECRET = "whsec_portal_tests"  # noqa: S105 - the emulator's test secret
SECRET_KEY = "sk_test_portal"  # noqa: S105
PUBLISHABLE_KEY = "pk_test_portal"
LOCALSTRIPE_PROVIDER = "portal.billing.providers.localstripe.LocalStripeProvider"
WEBHOOK_PATH = "/billing/webhooks/stripe/"


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    with LocalStripe(free_port()) as server:
        yield server


@dataclass
class StripeTest:
    server: LocalStripe
    settings: Any
    api: stripe.StripeClient = field(init=False)

    def __post_init__(self) -> None:
        self.api = stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": self.server.url}, max_network_retries=0
        )

    def point_api_at(self, url: str) -> None:
        """Send the portal's API calls to ``url`` (a fault-injecting proxy, a closed port)."""
        self.settings.PORTAL_STRIPE_API_BASE = url

    def card_token(self, number: str = "4242424242424242") -> str:
        """A card token as Stripe.js gets it in the browser, with the publishable key."""
        response = httpx.post(
            f"{self.server.url}/v1/tokens",
            data={
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2030",
                "card[cvc]": "123",
                "key": PUBLISHABLE_KEY,
            },
        )
        response.raise_for_status()
        token: str = response.json()["id"]
        return token

    def intents(self) -> list[Any]:
        return list(self.api.v1.payment_intents.list(params={"limit": 100}).data)

    def confirm_at_provider(self, reference: str, number: str = "4242424242424242") -> Any:
        """Pay an intent directly at the provider, as the browser does after 3-D Secure."""
        token: Any = self.api.v1.tokens.retrieve(self.card_token(number))
        params: Any = {"payment_method": token.card.id}
        self.api.v1.payment_intents.update(reference, params=params)
        return self.api.v1.payment_intents.confirm(reference)

    def events(self, type: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.server.url}/v1/events",
            params={"type": type},
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    @staticmethod
    def event(type: str, obj: dict[str, Any], *, event_id: str = "") -> dict[str, Any]:
        """An event like Stripe's, for tests that deliver events themselves."""
        return {
            "id": event_id or f"evt_test_{time.monotonic_ns()}",
            "object": "event",
            "type": type,
            "created": int(time.time()),
            "api_version": "2017-08-15",
            "livemode": False,
            "data": {"object": obj},
        }

    @staticmethod
    def signed(
        event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would send, signed as Stripe signs."""
        body = json.dumps(event).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(
            secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return body, {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={stamp},v1={signature}",
        }


@pytest.fixture
def stripe_test(localstripe_server: LocalStripe, settings: Any) -> StripeTest:
    localstripe_server.clear()
    # Webhooks go nowhere (a closed port) unless the test asks for them.
    localstripe_server.register_webhook(url="http://127.0.0.1:9/", secret=WEBHOOK_SECRET)
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PORTAL_STRIPE_API_BASE = localstripe_server.url
    settings.PORTAL_STRIPE_JS_URL = f"{localstripe_server.url}/js.stripe.com/v3/"
    settings.PORTAL_PAYMENT_PROVIDER = LOCALSTRIPE_PROVIDER
    settings.PORTAL_STRIPE_NETWORK_RETRIES = 0
    settings.PORTAL_STRIPE_TIMEOUT = 5.0
    return StripeTest(server=localstripe_server, settings=settings)


@pytest.fixture
def stripe_webhooks(stripe_test: StripeTest, portal_server: PortalServer) -> StripeTest:
    stripe_test.server.register_webhook(url=portal_server.url + WEBHOOK_PATH, secret=WEBHOOK_SECRET)
    return stripe_test


class StallingProxy:
    """An HTTP proxy to the emulator that can hold answers back, like a network timeout.

    Requests are always forwarded, so the provider does act on them; with
    ``stall_creates`` set, the answer to that many ``POST /v1/payment_intents``
    is held for ``stall_seconds`` (longer than the portal waits); with
    ``stall_confirms``, that of as many ``POST .../confirm`` (the charge). localstripe
    ignores ``Idempotency-Key``; this proxy honours it as Stripe does (the same
    key gets the first answer again), so a test can check that the portal
    retries with the same key and the provider ends up with one payment.
    """

    def __init__(self, target: str, *, stall_seconds: float = 3.0) -> None:
        self.target = target
        self.stall_seconds = stall_seconds
        self.stall_creates = 0
        self.stall_confirms = 0
        self.requests: list[tuple[str, str, str]] = []  # method, path, idempotency key
        self._answers: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key", "")
                with proxy._lock:
                    proxy.requests.append((self.command, self.path, key))
                    replay = proxy._answers.get(key) if key and self.command == "POST" else None
                    create = self.path == "/v1/payment_intents"
                    confirm = self.path.startswith("/v1/payment_intents/") and (
                        self.path.endswith("/confirm")
                    )
                    stall = False
                    if self.command == "POST" and create and proxy.stall_creates > 0:
                        stall, proxy.stall_creates = True, proxy.stall_creates - 1
                    elif self.command == "POST" and confirm and proxy.stall_confirms > 0:
                        stall, proxy.stall_confirms = True, proxy.stall_confirms - 1
                if replay is None:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in {"authorization", "content-type", "stripe-version"}
                    }
                    answer = httpx.request(
                        self.command, proxy.target + self.path, content=body, headers=headers
                    )
                    replay = (answer.status_code, answer.content)
                    if key and self.command == "POST":
                        with proxy._lock:
                            proxy._answers[key] = replay
                if stall:
                    time.sleep(proxy.stall_seconds)
                status, content = replay
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the client gave up waiting

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StallingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
