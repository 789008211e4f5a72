"""Prometheus metrics: what the SLO (docs/slo.md) and the alert rules read.

Requests are counted and timed by route name (the URL pattern's name, e.g.
``servicedesk:detail``, never the raw path, so the number of series stays
bounded) and status, for pages (:class:`MetricsMiddleware`) and for the live
stream (which counts its own, :func:`observe_request`); open live streams are a gauge; payment
and virus-scan outcomes are counted by the services when their transaction
commits; the task queue is measured at scrape time with one query.

Several processes serve one node (``manage.py serve`` runs uvicorn workers
and a task worker), and a scrape reaches only one of them. So the processes
write their samples to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, which ``serve`` switches on) and the scrape adds them up:
one scrape shows the whole node, scan outcomes from the task worker included.
Without that variable (tests, ``runserver``) the metrics live in the process.

``/metrics`` is served by the ASGI router, outside Django: Prometheus scrapes
each node directly, by address, which neither ``ALLOWED_HOSTS`` nor the HTTPS
redirect should stand in the way of. Only clients in ``PORTAL_METRICS_ALLOW``
get an answer (and, when ``PORTAL_METRICS_TOKEN`` is set, only with that
bearer token); everyone else gets a 404.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from portal.core.proxy import address_in

if TYPE_CHECKING:
    from portal.router import Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Server time buckets, in seconds: the SLO's thresholds (0.5 s, 2 s) are edges.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

if _directory := os.environ.get(MULTIPROC_ENV, "").strip():
    # Every process writes its files there from its first metric on.
    Path(_directory).mkdir(parents=True, exist_ok=True)

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by route name, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "portal_http_request_duration_seconds",
    "Server time until the response (its headers, for streams), by route name and method.",
    ["route", "method"],
    buckets=BUCKETS,
)
LIVE_STREAMS = Gauge(
    "portal_live_streams_open",
    "Live event streams (Server-Sent Events) open now.",
    multiprocess_mode="livesum",
)
PAYMENTS = Counter(
    "portal_payments",
    "Payments that reached a final state, by provider and outcome.",
    ["provider", "outcome"],
)
SCANS = Counter(
    "portal_document_scans",
    "Virus checks of document versions, by verdict.",
    ["verdict"],
)


# --- recording -----------------------------------------------------------------------


def _method(method: str | None) -> str:
    method = (method or "").upper()
    return method if method in METHODS else "other"


def observe_request(*, route: str, method: str | None, status: int, seconds: float) -> None:
    method = _method(method)
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


def _on_commit(action: Callable[[], None]) -> None:
    # Counted only when the outcome is in the database; at once outside a transaction.
    transaction.on_commit(action)


def payment_finished(*, provider: str, outcome: str, count: int = 1) -> None:
    """A payment succeeded, failed or was cancelled (counted when the transaction commits)."""
    if count > 0:
        _on_commit(lambda: PAYMENTS.labels(provider or "unknown", outcome).inc(count))


def scan_finished(*, verdict: str) -> None:
    """A virus check ended with ``verdict`` (counted when the transaction commits)."""
    _on_commit(lambda: SCANS.labels(verdict).inc())


def route_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return str(match.view_name)
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


class MetricsMiddleware:
    """Counts and times every page request by route name, method and status (outermost)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(
            route=route_name(request),
            method=request.method,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


# --- collecting at scrape time -----------------------------------------------------------


class TaskQueueCollector(Collector):
    """Depth and age of the background task queue, read from django-tasks-db's table."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "portal_tasks_ready", "Background tasks waiting for a worker.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "portal_tasks_oldest_ready_age_seconds",
            "How long the oldest waiting background task has been ready to run.",
            labels=["queue"],
        )
        up = GaugeMetricFamily(
            "portal_tasks_queue_up", "1 if the task queue could be read at this scrape."
        )
        try:
            rows = task_queue_stats()
        except Exception:  # noqa: BLE001 - a scrape must answer even without a database
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for queue, count, seconds in rows:
                depth.add_metric([queue], count)
                age.add_metric([queue], seconds)
        yield depth
        yield age
        yield up


def task_queue_stats() -> list[tuple[str, int, float]]:
    """(queue, ready tasks, age of the oldest in seconds) per queue with tasks waiting."""
    if "django_tasks_db" not in settings.INSTALLED_APPS:
        return []
    from django.db.models import Case, Count, F, Min, When
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult, get_date_max

    rows = (
        DBTaskResult.objects.ready()
        .order_by()
        .values("queue_name")
        .annotate(
            count=Count("id"),
            since=Min(
                Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
            ),
        )
    )
    now = timezone.now()
    return [
        (
            str(row["queue_name"]),
            int(row["count"]),
            max(0.0, (now - row["since"]).total_seconds()) if row["since"] else 0.0,
        )
        for row in rows
    ]


class _ProcessMetrics(Collector):
    """This process's own metrics (when not in multiprocess mode)."""

    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


_DB_FILE = re.compile(r"^(?:counter|histogram|summary|gauge_\w+?)_(\d+)\.db$")
_LIVE_GAUGE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_multiprocess_dir(path: Path) -> None:
    """Create the directory and drop the files of processes that no longer run.

    Run by ``manage.py serve`` before it starts the server and the worker. The
    counters of a process that ended go with it, which Prometheus reads as a
    counter reset (``rate()`` and ``increase()`` handle those).
    """
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        match = _DB_FILE.match(file.name)
        if match and not _pid_alive(int(match.group(1))):
            file.unlink(missing_ok=True)


def _sweep_dead_live_gauges(path: Path) -> None:
    # A process killed without its shutdown hook leaves its open-stream count behind.
    for file in path.glob("gauge_live*.db"):
        match = _LIVE_GAUGE.match(file.name)
        if match and not _pid_alive(int(match.group(1))):
            file.unlink(missing_ok=True)


def process_stopping() -> None:
    """This server process ends: its live gauges (open streams) no longer count."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def render() -> bytes:
    """The text exposition of every metric of this node."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory is not None:
        _sweep_dead_live_gauges(directory)
        multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessMetrics())
    registry.register(TaskQueueCollector())
    return generate_latest(registry)


# --- the endpoint ------------------------------------------------------------------------


def client_allowed(address: str | None, authorization: str | None) -> bool:
    """Whether a client may read the metrics: an allowed network, and the token if one is set."""
    if not address_in(address, settings.PORTAL_METRICS_ALLOW):
        return False
    token = settings.PORTAL_METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/metrics`` for Prometheus; a plain 404 for anyone not allowed, as for any unknown path."""
    headers = {
        key.decode("latin-1").lower(): value.decode("latin-1")
        for key, value in scope.get("headers", [])
    }
    client = scope.get("client")
    allowed = (
        scope.get("path") == "/metrics"
        and scope.get("method") in {"GET", "HEAD"}
        and client_allowed(client[0] if client else None, headers.get("authorization"))
    )
    if not allowed:
        body, status, content_type = b"Not found.\n", 404, "text/plain; charset=utf-8"
    else:
        body = await asyncio.get_running_loop().run_in_executor(None, _render_in_thread)
        status, content_type = 200, CONTENT_TYPE_LATEST
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _render_in_thread() -> bytes:
    close_old_connections()
    try:
        return render()
    finally:
        # Scrapes run on the executor's threads: give the connection back.
        connection.close()
