"""SIGTERM (what an orchestrator sends before it replaces a node) while requests are busy.

The server stops taking new connections at once, lets the requests it has
finish (``--timeout-graceful-shutdown``), and exits 0. Two realistic slow
requests: an upload whose body is still arriving, and a card payment waiting
for a slow payment provider.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal.billing.emulator import LocalStripe
from portal.documents.tests import samples
from tests.cluster import Cluster
from tests.localstripe import (
    LOCALSTRIPE_PROVIDER,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    StallingProxy,
)

from . import wait_for
from .conftest import MigratedPostgres

SETUP = """
import json
from django.test import Client
from portal.billing.tests.factories import make_invoice
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

acme = make_customer("Acme Ltd")
member = make_member(acme, Role.ADMIN)
invoice = make_invoice(acme, amount_minor=50_00)
client = Client()
client.force_login(member)
client.get("/documents/")  # sets the CSRF cookie
print(json.dumps({"invoice": invoice.number,
                  "cookies": {name: morsel.value for name, morsel in client.cookies.items()}}))
"""

STORED = """
import hashlib, json
from portal.billing.models import Invoice, Payment
from portal.documents import storage
from portal.documents.models import DocumentVersion
versions = []
for version in DocumentVersion.objects.all():
    with storage.document_storage().open(version.storage_key, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    versions.append([version.file_name, version.size, digest])
invoice = Invoice.objects.get()
print(json.dumps({"versions": versions, "invoice": [invoice.status, invoice.amount_paid_minor],
                  "payments": list(Payment.objects.values_list("status", flat=True))}))
"""


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def _card_token(localstripe: LocalStripe) -> str:
    answer = httpx.post(
        f"{localstripe.url}/v1/tokens",
        data={
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
            "key": PUBLISHABLE_KEY,
        },
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


@pytest.mark.postgres
def test_sigterm_lets_a_slow_upload_and_a_slow_payment_finish_and_exits_0(
    tmp_path: Path, migrated_postgres: MigratedPostgres, localstripe_server: LocalStripe
) -> None:
    from django.conf import settings

    localstripe_server.clear()
    localstripe_server.register_webhook(url="http://127.0.0.1:9/", secret=WEBHOOK_SECRET)
    uploads = tmp_path / "uploads"  # the server's temporary directory: bodies land here
    uploads.mkdir()
    with (
        StallingProxy(localstripe_server.url, stall_seconds=3.0) as provider,
        Cluster(
            data_dir=tmp_path / "data",
            nodes=2,  # one for each slow request
            migrate=False,
            graceful_shutdown=60,  # ample; the requests end long before
            DATABASE_URL=migrated_postgres.new_database(),
            TMPDIR=str(uploads),
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
            STRIPE_SECRET_KEY=SECRET_KEY,
            STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PORTAL_STRIPE_API_BASE=provider.url,
            PORTAL_PAYMENT_PROVIDER=LOCALSTRIPE_PROVIDER,
            PORTAL_STRIPE_NETWORK_RETRIES="0",
            PORTAL_STRIPE_TIMEOUT="30",
        ) as cluster,
    ):
        info: Any = cluster.python(SETUP)
        cookies: dict[str, str] = info["cookies"]
        port = cluster.ports[0]

        # 1. An upload: half of a 6 MB body sent, the rest after the SIGTERM.
        content = samples.PDF + bytes(range(256)) * (6 * 4096)
        boundary = "faultboundary"
        head = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{cookies['csrftoken']}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="report.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        body = head + content + tail
        half = len(body) // 2
        request = (
            "POST /documents/upload/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Cookie: {'; '.join(f'{k}={v}' for k, v in cookies.items())}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            client.sendall(request + body[:half])
            # Django is reading the file into a temporary file: the request is under way.
            assert wait_for(lambda: any(uploads.glob("*.upload*")))
            cluster.processes[0].send_signal(signal.SIGTERM)
            assert wait_for(lambda: _refuses_connections(port))  # no new requests
            assert cluster.processes[0].poll() is None  # but this one goes on
            client.sendall(body[half:])
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 302"), answer[:300]
        assert cluster.processes[0].wait(60) == 0
        assert list(uploads.glob("*.upload*")) == []

        # 2. A card payment that waits for a slow provider, on the other node.
        provider.stall_creates = 1
        outcome: dict[str, Any] = {}

        def pay() -> None:
            response = httpx.post(
                f"{cluster.urls[1]}/billing/invoices/{info['invoice']}/pay/",
                data={"token": _card_token(localstripe_server)},
                cookies=cookies,
                headers={"X-CSRFToken": cookies["csrftoken"]},
                timeout=60,
            )
            outcome.update(status=response.status_code, body=response.json())

        payer = threading.Thread(target=pay)
        payer.start()
        try:
            # The server is waiting for the provider's answer to the payment's creation.
            assert wait_for(
                lambda: any(path == "/v1/payment_intents" for _, path, _ in provider.requests)
            )
            cluster.processes[1].send_signal(signal.SIGTERM)
        finally:
            payer.join(60)
        assert outcome["status"] == 200 and outcome["body"]["status"] == "succeeded", outcome
        assert cluster.processes[1].wait(60) == 0

        stored: Any = cluster.python(STORED)
    # The whole document, nothing half-written; the invoice paid once.
    assert stored["versions"] == [["report.pdf", len(content), hashlib.sha256(content).hexdigest()]]
    assert stored["invoice"] == ["paid", 50_00] and stored["payments"] == ["succeeded"]
