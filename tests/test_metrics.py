"""Prometheus metrics: what is counted, under which labels, and who may read /metrics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from portal.billing.services import payment_record_manual
from portal.billing.tests.factories import make_invoice
from portal.core import metrics
from portal.core.tests.factories import UserFactory
from portal.customers.tests.factories import make_customer
from portal.documents import services as documents
from portal.documents.tests import samples
from tests.server import free_port

ROOT = Path(__file__).resolve().parents[1]
EXPORTED = {
    "portal_http_requests_total",
    "portal_http_request_duration_seconds_bucket",
    "portal_http_request_duration_seconds_count",
    "portal_http_request_duration_seconds_sum",
    "portal_live_streams_open",
    "portal_payments_total",
    "portal_document_scans_total",
    "portal_tasks_ready",
    "portal_tasks_oldest_ready_age_seconds",
    "portal_tasks_queue_up",
}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_of(route: str, status: str, method: str = "GET") -> float:
    return sample("portal_http_requests_total", route=route, method=method, status=status)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            found.setdefault(item.name, []).append((item.labels, item.value))
    return found


@pytest.mark.django_db
def test_pages_are_counted_by_route_name_and_status_never_by_path(client: Client) -> None:
    before = {
        "home": requests_of("core:home", "200"),
        "page404": requests_of("content:page", "404"),
        "unmatched": requests_of("unmatched", "404"),
        "healthz": sample(
            "portal_http_request_duration_seconds_count", route="core:healthz", method="GET"
        ),
    }
    assert client.get("/").status_code == 200
    assert client.get("/pages/no-such-page-4711/").status_code == 404
    assert client.get("/no/such/path/4711").status_code == 404
    assert client.get("/healthz").status_code == 200

    assert requests_of("core:home", "200") == before["home"] + 1
    assert requests_of("content:page", "404") == before["page404"] + 1
    assert requests_of("unmatched", "404") == before["unmatched"] + 1
    duration = sample(
        "portal_http_request_duration_seconds_count", route="core:healthz", method="GET"
    )
    assert duration == before["healthz"] + 1
    # Bounded cardinality: no label is ever a raw path.
    text = metrics.render().decode()
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "core:home" in routes
    assert not any("/" in route or "4711" in route for route in routes)


@pytest.mark.django_db
def test_payment_and_scan_outcomes_are_counted_when_they_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    user = UserFactory()
    customer = make_customer(admin=user)
    invoice = make_invoice(customer)
    paid = sample("portal_payments_total", provider="manual", outcome="succeeded")
    scanned = sample("portal_document_scans_total", verdict="not_scanned")
    with django_capture_on_commit_callbacks(execute=True):
        payment_record_manual(invoice=invoice, actor=None, notify=False)
        documents.document_upload(
            customer=customer, uploaded_by=user, file=samples.upload("a.pdf", samples.PDF)
        )
    assert sample("portal_payments_total", provider="manual", outcome="succeeded") == paid + 1
    assert sample("portal_document_scans_total", verdict="not_scanned") == scanned + 1


@pytest.mark.django_db
def test_the_task_queue_is_measured_at_scrape_time(django_assert_max_num_queries: Any) -> None:
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="portal.documents.tasks.purge_documents",
        backend_name="default",
        queue_name="default",
        run_after=get_date_max(),  # no delay: ready since it was queued
    )
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=3))
    with django_assert_max_num_queries(1):
        found = parse(metrics.render().decode())
    assert found["portal_tasks_queue_up"] == [({}, 1.0)]
    assert found["portal_tasks_ready"] == [({"queue": "default"}, 1.0)]
    [(labels, age)] = found["portal_tasks_oldest_ready_age_seconds"]
    assert labels == {"queue": "default"} and 180 <= age < 3600


def scrape(address: str, headers: dict[str, str] | None = None) -> httpx.Response:
    from portal.asgi import application

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=application, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.get("/metrics", headers=headers)

    # In a thread of its own: a browser test in the same worker leaves Playwright's
    # event loop set on this one, where asyncio.run() refuses to start.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, get()).result()


@pytest.mark.django_db(transaction=True)
def test_metrics_answer_allowed_networks_only_and_name_every_metric(settings: Any) -> None:
    refused = scrape("203.0.113.9")
    assert refused.status_code == 404
    assert "portal_" not in refused.text
    assert scrape("10.1.2.3").status_code == 404

    response = scrape("127.0.0.1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {name for name, _ in _sample_names(response.text)} | _declared(response.text)
    assert names >= EXPORTED

    settings.PORTAL_METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    assert scrape("10.1.2.3").status_code == 200
    assert scrape("127.0.0.1").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_configured_token_is_required_too(settings: Any) -> None:
    settings.PORTAL_METRICS_TOKEN = "scrape-secret-4711"
    assert scrape("127.0.0.1").status_code == 404
    assert scrape("127.0.0.1", {"Authorization": "Bearer wrong"}).status_code == 404
    assert scrape("127.0.0.1", {"Authorization": "Basic scrape-secret-4711"}).status_code == 404
    assert scrape("203.0.113.9", {"Authorization": "Bearer scrape-secret-4711"}).status_code == 404
    assert scrape("127.0.0.1", {"Authorization": "Bearer scrape-secret-4711"}).status_code == 200


def _sample_names(text: str) -> list[tuple[str, str]]:
    return [
        (line.split("{")[0].split(" ")[0], line)
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


def _declared(text: str) -> set[str]:
    """Names declared by # TYPE lines (a labelled metric with no sample yet has only these)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names |= {
                "counter": {name if name.endswith("_total") else f"{name}_total"},
                "histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum"},
            }.get(kind, {name})
    return names


def serve_env(tmp_path: Path, metrics_dir: Path) -> dict[str, str]:
    """The environment of a ``manage.py serve`` on the test database."""
    database = connection.settings_dict
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "DATABASE_", "PROMETHEUS_", "DJANGO_"))
    }
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{database['NAME']}"
    else:
        database_url = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        )
    env.update(
        PORTAL_DATA_DIR=str(tmp_path),
        DATABASE_URL=database_url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PORTAL_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        # The collected files (a page such as the 404 names them through the manifest).
        PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
    )
    return env


def counter_pids(metrics_dir: Path) -> set[int]:
    """The processes that have counted something in the node's metrics directory."""
    return {
        int(match.group(1))
        for file in metrics_dir.glob("counter_*.db")
        if (match := re.match(r"counter_(\d+)\.db", file.name))
    }


@pytest.mark.django_db(transaction=True)
def test_one_scrape_adds_up_every_worker_process_of_a_node(tmp_path: Path) -> None:
    """``manage.py serve`` with two workers: each scrape shows the whole node's counts."""
    metrics_dir = tmp_path / "metrics"
    env = serve_env(tmp_path, metrics_dir)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        # A session of its own: cleaning up stops uvicorn's workers too, even if the
        # master has to be killed (a pipe they inherited would otherwise stay open).
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2",
             "--no-worker", "--no-localstripe", "--no-banner"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts three Django processes
        uncertain = 0  # timed out after connecting: perhaps answered and counted all the same
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=10).status_code == 200:
                    break
            except httpx.ReadTimeout:
                uncertain += 1
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

        sent = 1  # the one that found the server started
        with httpx.Client(base_url=url, timeout=30) as client:
            # New connections, so the kernel spreads them over both workers
            # (the second may still be starting: go on until both have answered).
            while sent < 20 or len(counter_pids(metrics_dir)) < 2:
                assert sent < 500, "the requests should reach both worker processes"
                assert client.get("/healthz", headers={"Connection": "close"}).status_code == 200
                sent += 1
            assert client.get("/live/events").status_code == 401
        for _ in range(4):
            text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=30).text
            found = parse(text)
            healthz = [
                value
                for labels, value in found["portal_http_requests_total"]
                if labels == {"route": "core:healthz", "method": "GET", "status": "200"}
            ]
            assert len(healthz) == 1 and sent <= healthz[0] <= sent + uncertain
            live = [
                value
                for labels, value in found["portal_http_requests_total"]
                if labels["route"] == "live:events"
            ]
            assert live == [1.0]
            assert [value for _, value in found["portal_live_streams_open"]] == [0.0]
            assert found["portal_tasks_queue_up"] == [({}, 1.0)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group
        server.wait()


@pytest.mark.django_db(transaction=True)
def test_the_live_servers_scrape_adds_up_the_pages_server_of_the_node(tmp_path: Path) -> None:
    """Production: `serve --only pages` (uWSGI, two processes) and `--only live`
    (uvicorn) count into one directory; the live server's scrape shows both. Both
    servers end with status 0 on SIGTERM, as the systemd units expect."""
    metrics_dir = tmp_path / "metrics"
    env = serve_env(tmp_path, metrics_dir)
    pages_port, live_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    servers: list[subprocess.Popen[bytes]] = []
    with log.open("wb") as log_file:
        for only, port, workers in (("pages", pages_port, "2"), ("live", live_port, "1")):
            servers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "manage.py",
                        "serve",
                        "--only",
                        only,
                        "--port",
                        str(port),
                        "--workers",
                        workers,
                        "--no-worker",
                        "--no-banner",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                    start_new_session=True,
                )  # fmt: skip
            )
    pages, live = (f"http://127.0.0.1:{port}" for port in (pages_port, live_port))
    try:
        deadline = time.monotonic() + 180
        for url in (pages, live):
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=10).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if any(s.poll() is not None for s in servers) or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        # `serve` without a task worker becomes the server itself; uvicorn with one
        # worker serves in that process, uWSGI's processes are its children.
        live_pids = {servers[1].pid}
        sent = 0
        with httpx.Client(base_url=pages, timeout=30) as client:
            # uWSGI's processes answer one connection each: both get some in time.
            while sent < 20 or len(counter_pids(metrics_dir) - live_pids) < 2:
                assert sent < 500, "the requests should reach both uWSGI processes"
                assert client.get("/healthz").status_code == 200
                sent += 1
        # The pages server does not answer the scrape (Django's 404); the live server does.
        assert httpx.get(f"{pages}/metrics", timeout=30).status_code == 404
        found = parse(httpx.get(f"{live}/metrics", timeout=30).text)
        healthz = [
            value
            for labels, value in found["portal_http_requests_total"]
            if labels == {"route": "core:healthz", "method": "GET", "status": "200"}
        ]
        assert healthz == [float(sent)]
        for server in servers:
            server.terminate()
        assert [server.wait(60) for server in servers] == [0, 0]
    finally:
        for server in servers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group
            server.wait()


@pytest.mark.django_db(transaction=True)
def test_nginx_keeps_metrics_from_the_public_site(portal_server: Any, tmp_path: Path) -> None:
    """Through deploy/nginx every client seems to come from the proxy's own (allowed)
    address, so the proxy must refuse /metrics itself."""
    from tests.test_deploy import nginx

    # The node, directly:
    assert httpx.get(f"{portal_server.url}/metrics", timeout=30).status_code == 200
    node = portal_server.url.removeprefix("http://")  # one uvicorn: pages and live stream
    with nginx([node], [node], tmp_path) as proxy:
        assert httpx.get(f"{proxy}/healthz", timeout=30).status_code == 200
        for path in ("/metrics", "/metrics/", "//metrics", "/%6detrics", "/metrics?x=1"):
            response = httpx.get(f"{proxy}{path}", timeout=30)
            assert response.status_code == 404, path
            assert "portal_http_requests" not in response.text
