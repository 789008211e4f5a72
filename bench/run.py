"""``make bench``: the portal in its production topology under load, figures to docs/benchmarks.md.

Topology: PostgreSQL and Redis of their own, a node as in production: nginx
with deploy/'s locations in front of `manage.py serve --only pages` (uWSGI,
2 processes) and `--only live` (uvicorn, 2 processes, the live stream as a
native ASGI handler), the Redis bus, production settings (the request log at its
default level, INFO, as in production). Load comes from
wrk (pages) and from this process (live streams, paced page views).
Every throughput is also given as a ratio to a bare Django page (/healthz)
measured on the same server in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.clients import USER_AGENT, StreamClient, StreamFleet, get  # noqa: E402
from tests.server import free_port  # noqa: E402
from tests.services import postgres_server, redis_server  # noqa: E402

HOST = "127.0.0.1"
# Connections of the paced page views during the 10,000-stream hold (b).
PAGE_CONNECTIONS = 128


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Portal:
    """One node as in production: the pages in uWSGI (``manage.py serve --only pages``),
    the live stream in uvicorn (``--only live``), nginx in front with deploy/'s locations.

    ``front=False`` leaves nginx out, for a front shared by several nodes (bench/two_nodes.py).
    """

    def __init__(
        self, env: dict[str, str], workers: int = 2, live_workers: int = 2, *, front: bool = True
    ) -> None:
        self.env = env
        self.workers_count = workers
        self.live_workers = live_workers
        self.front = front
        self.pages_port = free_port()
        self.live_port = free_port()
        self.port = self.pages_port  # nginx's, once it runs in front
        self.processes: list[subprocess.Popen[bytes]] = []
        self._front = ExitStack()

    def manage(self, *args: str, stdin: str | None = None, progress: bool = False) -> str:
        """Run a management command; with ``progress``, its stderr goes to the terminal."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, text=True, input=stdin,
            stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{(result.stderr or '')[-3000:]}")
        return result.stdout

    def _serve(self, only: str, port: int, workers: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--only", only, "--no-banner", "--no-worker",
             "--host", HOST, "--port", str(port), "--workers", str(workers)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self) -> None:
        self.processes = [
            self._serve("pages", self.pages_port, self.workers_count),
            self._serve("live", self.live_port, self.live_workers),
        ]
        import httpx

        for port in (self.pages_port, self.live_port):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://{HOST}:{port}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the portal did not start")
                time.sleep(0.2)
        if self.front:
            from bench.front import nginx_front

            work = Path(tempfile.mkdtemp(prefix="portal-bench-nginx-"))
            self.port = self._front.enter_context(
                nginx_front([f"{HOST}:{self.pages_port}"], [f"{HOST}:{self.live_port}"], work,
                            connections=20_000)
            )  # fmt: skip

    def workers(self) -> list[int]:
        """The processes that serve requests: each server's workers, or the server itself
        when it has none (uvicorn with one worker serves in its own process)."""
        children: dict[int, list[int]] = {process.pid: [] for process in self.processes}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in children:
                children[int(fields[1])].append(int(stat.parent.name))
        return sorted(pid for parent, kids in children.items() for pid in (kids or [parent]))

    def memory_and_threads(self) -> tuple[int, int]:
        rss = threads = 0
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # ended between the listing and the reading
            rss += int(re.search(r"VmRSS:\s+(\d+)", status)[1]) * 1024  # type: ignore[index]
            threads += int(re.search(r"Threads:\s+(\d+)", status)[1])  # type: ignore[index]
        return rss, threads

    def stop(self) -> None:
        self._front.close()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []


class Emitter:
    """``bench/emitter.py`` in a process of its own: changes committed at ``rate`` a second
    for ``seconds``, each reported as a JSON line (event id and customer)."""

    def __init__(self, env: dict[str, str], *, rate: float, seconds: float) -> None:
        self._log = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c",
             f"from bench.emitter import run; run(rate={rate}, seconds={seconds})"],
            cwd=ROOT, env=env, stdout=self._log, text=True,
        )  # fmt: skip

    async def finished(self) -> dict[int, set[int]]:
        """Once it has ended: the event ids it committed, by customer."""
        while self._process.poll() is None:
            await asyncio.sleep(0.5)
        self._log.seek(0)
        emitted: dict[int, set[int]] = {}
        for line in self._log.read().splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                emitted.setdefault(row["customer"], set()).add(row["id"])
        return emitted


def wrk(
    url: str, cookie: str | None, seconds: int, connections: int = 64, requests: Path | None = None
) -> dict[str, Any]:
    """wrk -t2 against ``url``; with ``requests``, each request takes the next line of that
    file (path and header: a session cookie or an API token), see bench/pages.lua."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", url]
    env = None
    if requests is not None:
        argv[1:1] = ["-s", str(ROOT / "bench" / "pages.lua")]
        env = {**os.environ, "BENCH_REQUESTS": str(requests)}
    elif cookie:
        argv[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        if not found:
            return float("nan")
        value, unit = float(found[1]), found[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": int(bad[1]) if bad else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


async def streams_scenario(
    portal: Portal,
    seed: dict[str, Any],
    *,
    streams: int,
    hold: float,
    page_rate: float,
    event_rate: float,
    results: dict[str, Any],
) -> None:
    cookies, customer_of = seed["cookies"], seed["customer_of_user"]
    # Like a browser, which starts its stream from the last event id its page shows
    # (none yet: the changes start below), so a reconnect replays what it missed.
    clients = [StreamClient(i, cookies[i], last_id=0) for i in range(streams)]
    fleet = StreamFleet(clients, HOST, portal.port)

    # Each user's page first, as a browser loads the page that opens its stream: the
    # steady state the hold measures (a first view fills the user's cached page).
    log(f"first views: each of {streams:,} users loads the dashboard once")
    first_views = await first_views_of(portal.port, cookies[:streams])
    log(
        f"first views: {len(first_views) / first_views.seconds:.0f}/s, "
        f"p95 {percentile(first_views, 95):.0f} ms"
    )

    rss0, threads0 = portal.memory_and_threads()
    log(f"opening {streams} live streams")
    started = time.monotonic()
    # Half first, then the rest: the second half's growth is what one more stream costs,
    # without what the first streams set up once (buffers, tables, code paths warmed).
    half = len(clients) // 2
    await fleet.connect_all(clients[:half])
    first_half_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    rss_half, _ = portal.memory_and_threads()
    resumed = time.monotonic()
    await fleet.connect_all(clients[half:])
    connected = sum(1 for c in clients if c.connected_at)
    connected_half = sum(1 for c in clients[:half] if c.connected_at)
    connect_seconds = first_half_seconds + time.monotonic() - resumed
    await asyncio.sleep(2)
    rss1, threads1 = portal.memory_and_threads()
    log(
        f"{connected} connected in {connect_seconds:.1f} s; "
        f"server RSS +{(rss1 - rss0) / 2**20:.0f} MiB"
    )

    # Pages at a steady pace from signed-in users, while changes stream out.
    page_latencies: list[float] = []
    page_done: list[tuple[float, float]] = []  # (when answered, latency ms), by the minute
    page_errors = 0
    stop_pages = asyncio.Event()

    async def page_worker(worker: int, workers: int) -> None:
        nonlocal page_errors
        reader, writer = await asyncio.open_connection(HOST, portal.port)
        rng = random.Random(worker)  # noqa: S311 - load pattern
        interval = workers / page_rate
        next_at = time.monotonic() + rng.random() * interval
        while not stop_pages.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            # Timed from when the view was due, not from when this connection got to
            # send it: a server that falls behind shows in the latency (no coordinated
            # omission), as a user's wait would.
            begun = next_at
            next_at += interval
            user = rng.randrange(len(cookies))
            try:
                status, _ = await get(reader, writer, HOST, "/dashboard/", cookies[user])
            except (ConnectionError, asyncio.IncompleteReadError):
                page_errors += 1
                reader, writer = await asyncio.open_connection(HOST, portal.port)
                continue
            answered = time.monotonic()
            page_latencies.append((answered - begun) * 1000)
            page_done.append((answered, page_latencies[-1]))
            if status != 200:
                page_errors += 1
        writer.close()

    emitter = Emitter(portal.env, rate=event_rate, seconds=hold + 20)
    # Enough connections that each sends a view every PAGE_CONNECTIONS / page_rate
    # seconds (0.38 s at 333/s): a slow answer delays that connection's next view
    # only, as when many users' browsers ask independently.
    page_workers = [
        asyncio.create_task(page_worker(i, PAGE_CONNECTIONS))
        for i in range(PAGE_CONNECTIONS if page_rate else 0)
    ]
    log(f"holding for {hold:.0f} s: {page_rate:.0f} pages/s, {event_rate:.0f} changes/s")
    hold_started = time.monotonic()
    await asyncio.sleep(hold)
    stop_pages.set()
    await asyncio.gather(*page_workers, return_exceptions=True)
    for m in page_minutes(page_done, hold_started, hold):
        log(f"minute {m['minute']:.0f}: {m['rate']:.0f} pages/s, p95 {m['p95']:.0f} ms")
    hold_deliveries = list(fleet.deliveries)

    # Reconnect storm: every stream drops and comes back with Last-Event-ID.
    log("reconnect storm: dropping every stream")
    await fleet.close()
    storm_started = time.monotonic()
    for client in clients:
        client.connected_at = 0.0
    await fleet.connect_all(clients)
    storm_seconds = time.monotonic() - storm_started
    log(f"all back in {storm_seconds:.1f} s; letting the changes finish")
    emitted = await emitter.finished()
    await fleet.settle(at_most=60, quiet=5)
    await fleet.close()
    incomplete = fleet.missing(emitted, customer_of)
    results["streams"] = {
        "streams": streams,
        "hold": hold,
        "connected": connected,
        "connect_seconds": connect_seconds,
        "first_views_rate": len(first_views) / first_views.seconds,
        "first_views_p95": percentile(first_views, 95),
        "memory_per_stream": (rss1 - rss0) / max(connected, 1),
        "memory_per_added_stream": (rss1 - rss_half) / max(connected - connected_half, 1),
        "threads_before": threads0,
        "threads_after": threads1,
        "pages": len(page_latencies),
        "page_rate": len(page_latencies) / hold,
        "page_rate_asked": page_rate,
        "page_p50": percentile(page_latencies, 50),
        "page_p95": percentile(page_latencies, 95),
        "page_minutes": page_minutes(page_done, hold_started, hold),
        "page_errors": page_errors,
        "events": sum(len(v) for v in emitted.values()),
        "deliveries": len(hold_deliveries),
        "delivery_p50": percentile(hold_deliveries, 50) * 1000,
        "delivery_p99": percentile(hold_deliveries, 99) * 1000,
        "storm_seconds": storm_seconds,
        "clients_missing_events": incomplete,
        "stream_errors": sum(c.errors for c in clients),
    }


def page_minutes(
    done: list[tuple[float, float]], started: float, hold: float
) -> list[dict[str, float]]:
    """Pages answered in each minute of the hold, with their p95: whether the server
    kept up throughout or fell behind at some point (and when)."""
    minutes: list[dict[str, float]] = []
    for minute in range(max(1, math.ceil(hold / 60))):
        begin, end = started + minute * 60, started + min(hold, (minute + 1) * 60)
        latencies = [ms for at, ms in done if begin <= at < end]
        minutes.append(
            {
                "minute": minute + 1,
                "rate": len(latencies) / max(end - begin, 1e-9),
                "p95": percentile(latencies, 95),
            }
        )
    return minutes


class Latencies(list[float]):
    """Milliseconds of each answer, and the seconds the whole batch took."""

    seconds: float = 0.0


async def first_views_of(port: int, cookies: list[str], connections: int = 32) -> Latencies:
    """Each cookie's dashboard once, over ``connections`` keep-alive connections."""
    latencies = Latencies()
    queue = list(reversed(cookies))

    async def viewer() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        while queue:
            cookie = queue.pop()
            begun = time.monotonic()
            status, _ = await get(reader, writer, HOST, "/dashboard/", cookie)
            if status != 200:
                raise RuntimeError(f"a first view answered {status}")
            latencies.append((time.monotonic() - begun) * 1000)
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(viewer() for _ in range(connections)))
    latencies.seconds = time.monotonic() - started
    return latencies


def nginx_version() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    try:
        # nginx prints its version on stderr.
        text = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    except OSError:
        return "nginx ?"
    found = re.search(r"nginx/([\d.]+)", text)
    return f"nginx {found[1]}" if found else "nginx ?"


def versions(env: dict[str, str], pg_url: str) -> str:
    import django
    import uvicorn

    pg = subprocess.run(
        [sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))[-1], "--version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    uwsgi = subprocess.run(
        [str(Path(sys.executable).parent / "uwsgi"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    redis_version = re.search(r"v=([\d.]+)", redis)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"uWSGI {uwsgi}, uvicorn {uvicorn.__version__}, {nginx_version()}, "
        f"{pg}, Redis {redis_version[1] if redis_version else '?'}; "
        f"{os.cpu_count()} cores ({cpu[1] if cpu else 'unknown CPU'})"
    )


CONTENT_PAGE = "/pages/app-comp-001-customer-portal/"

HEADER = """# Benchmarks

Figures from `bench/run.py`: `make bench` (about 15 minutes) or `make bench-quick` (a few
minutes: 2,000 streams held 30 s, growth up to 10,000 requests). Both start their own
PostgreSQL and Redis, migrate, seed with COPY (`bench/seed.py`), serve a node as in
production (Debian's nginx with `deploy/nginx/portal-locations.conf` in front of
`manage.py serve --only pages`, uWSGI, and `--only live`, uvicorn; production settings)
and write a section here, newest first; the raw figures go to `var/bench-results.json`.
`--skip-streams` leaves out the live streams. Every client sends the cookies a browser
holds once a page of the portal has set them: its session's and its CSRF cookie.

- **(a) pages**: `wrk -t2 -c64` per page for 15 s (10 s quick), through `bench/pages.lua`,
  which rotates the requests over 200 signed-in admins' sessions (the API over 50 tokens);
  every throughput also as a ratio to the bare Django page in the same run. The bare page
  is measured a second time with a session: the floor any signed-in page stands on.
- **(c) growth**: the request list and a request's page of customers with 10, 1,000 and
  100,000 requests: query count and median server time of a view (inside Django; the
  customers' views take turns in one process, so the machine's noise weighs on each alike),
  and p50 / p99 under wrk over that customer's users.
- **browser budget** (`bench/browser.py`): Debian's Chromium through Playwright loads each
  main page signed in, with an empty cache and again; bytes are Resource Timing
  `transferSize` (headers included, 0 for a cache hit), time is Navigation Timing
  `loadEventEnd`.
- **(b, d) streams** (`bench/clients.py`): each of N signed-in users first loads the
  dashboard (as a browser loads the page that opens its stream), then all N hold a live
  stream while paced page views (one per user per 30 s, over 128 connections, each
  view timed from when it was due) and 5 status
  changes a second (`bench/emitter.py`: a request's status saved with its timeline entry,
  and an event) run; then every stream is dropped and reconnects with `Last-Event-ID`.
- **(e) two nodes** (`bench/two_nodes.py`): the portal twice (each node one uWSGI
  process for the pages and one uvicorn process for the live stream) behind
  Debian's nginx with `deploy/nginx/portal-locations.conf`, sharing PostgreSQL and Redis:
  the bare page and the dashboard through nginx, then live streams spread over both nodes
  while a third process commits changes; every client must get every event of its customer.
  `--skip-two-nodes` leaves it out.

The query count of each main page is also held by the test suite
(`portal/core/tests/test_page_queries.py`: the same count with 2 and 30 rows); timing is
only measured here. These machines are shared and noisy: compare the ratios within one run
rather than absolute figures across runs; a run on a busy machine says so.

"""


def request_lines(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{p}\t{name}\t{value}\n" for p, name, value in rows))
    return path


def touch_sessions(base: str, cookies: list[str]) -> None:
    """One page view per session before measuring: the first view of a user fills their
    cached page and the server process's memory of the user, which is not what a steady
    page view costs."""
    import httpx

    with httpx.Client(timeout=30) as client:
        for cookie in cookies:
            client.get(f"{base}/dashboard/", headers={"Cookie": cookie, "User-Agent": USER_AGENT})


def pages_scenario(
    portal: Portal, seed: dict[str, Any], work: Path, seconds: int
) -> dict[str, Any]:
    """(a) wrk -t2 -c64 per page; each request as another of 200 signed-in admins."""
    cookies, sessions, references = seed["cookies"], seed["sessions"], seed["references"]
    customers = len(references)
    growth = len(seed["growth"])
    # Admins of ordinary customers: user i belongs to customer i % customers, role i % 4 == 0.
    admins = [i for i in range(len(sessions)) if i % 4 == 0 and i % customers >= growth][:200]

    def signed_in(path_of: Any) -> list[tuple[str, str, str]]:
        return [(path_of(i), "Cookie", cookies[i]) for i in admins]

    plans: dict[str, list[tuple[str, str, str]]] = {
        "bare Django page (/healthz)": [("/healthz", "", "")],
        # The same view with a session: what any signed-in page pays before its own work
        # (the session from Redis, the user from PostgreSQL, through the same middleware).
        "bare page, signed in (/healthz with a session)": signed_in(lambda i: "/healthz"),
        "signed-in dashboard": signed_in(lambda i: "/dashboard/"),
        "request list": signed_in(lambda i: "/requests/"),
        "request detail": signed_in(lambda i: f"/requests/{references[i % customers][0]}/"),
        "invoice list": signed_in(lambda i: "/billing/invoices/"),
        "document library": signed_in(lambda i: "/documents/"),
        "content page": signed_in(lambda i: CONTENT_PAGE),
        "API list (token)": [
            ("/api/v1/service-requests", "Authorization", f"Bearer {token}")
            for token in seed["tokens"]
        ],
    }
    base = f"http://{HOST}:{portal.port}"
    log(f"(a) one view per session first ({len(admins)} sessions)")
    touch_sessions(base, [cookies[i] for i in admins])
    results: dict[str, Any] = {}
    for n, (label, rows) in enumerate(plans.items()):
        log(f"(a) wrk {label} ({n + 1}/{len(plans)}, {seconds} s)")
        lines = request_lines(work / f"requests-{n}.tsv", rows)
        # Each row's page viewed once first: its first view builds and keeps the page
        # (about 30 ms for a list), which 64 clients would otherwise meet in the
        # measurement (a p99 of 400-700 ms where the next run gave 130).
        view_each(base, rows)
        wrk(base + rows[0][0], None, 2, requests=lines)  # warm: connections, processes
        results[label] = wrk(base + rows[0][0], None, seconds, requests=lines)
    return results


def view_each(base: str, rows: list[tuple[str, str, str]]) -> None:
    """One view of each (path, header, value) row, one after another."""
    import httpx

    with httpx.Client(timeout=30) as client:
        for path, header, value in rows:
            headers = {"User-Agent": USER_AGENT, **({header: value} if header else {})}
            client.get(f"{base}{path}", headers=headers)


def growth_scenario(
    portal: Portal, seed: dict[str, Any], work: Path, seconds: int
) -> list[dict[str, Any]]:
    """(c) the request list and a request's page for customers with 10 ... 100,000 requests."""
    name, sessions = seed["cookie_name"], seed["sessions"]
    base = f"http://{HOST}:{portal.port}"
    customers = len(seed["references"])
    steps = []
    for step in sorted(seed["growth"], key=lambda g: g["requests"]):
        # The customer's users who may see requests: user i belongs to customer
        # i % customers with the role i % 4 (admin, member, member, billing).
        c = step["customer_index"]
        users = [i for i in range(c, len(sessions), customers) if i % 4 != 3]
        paths = {"list": "/requests/", "detail": f"/requests/{step['references'][0]}/"}
        steps.append((step, c, users, paths))
    # Server time inside Django, every customer's views in turn (one process, one run).
    views = [
        {"session": sessions[users[0]], "paths": list(paths.values())} for *_, users, paths in steps
    ]
    counted = json.loads(
        portal.manage(
            "shell", "--no-imports", "-c",
            "import json, sys; from bench.queries import measure; "
            f"json.dump(measure(cookie_name={name!r}, views={views!r}), sys.stdout)",
        )
    )  # fmt: skip
    rows = []
    for (step, c, users, paths), measured in zip(steps, counted, strict=True):
        user = users[0]
        touch_sessions(base, [seed["cookies"][u] for u in users])
        plan = json.loads(
            portal.manage(
                "shell", "--no-imports", "-c",
                "import json, sys; from bench.queries import explain_request_list; "
                f"json.dump(explain_request_list(email='bench{user:05d}@bench.example', "
                f"customer_number='B-{c:06d}'), sys.stdout)",
            )
        )  # fmt: skip
        row: dict[str, Any] = {"requests": step["requests"], "list_plan": plan}
        for key, path in paths.items():
            log(f"(c) {step['requests']:,} requests: wrk {path}")
            lines = request_lines(
                work / f"growth-{c}-{key}.tsv",
                [(path, "Cookie", seed["cookies"][u]) for u in users],
            )
            wrk(base + path, None, 1, requests=lines)
            row[key] = {**wrk(base + path, None, seconds, requests=lines), **measured[path]}
        rows.append(row)
    return rows


def browser_scenario(portal: Portal, seed: dict[str, Any]) -> dict[str, Any] | None:
    """The transfer and load budget of each main page in Chromium (skipped without it)."""
    if not Path("/usr/bin/chromium").exists():
        log("browser budget skipped: /usr/bin/chromium is missing (apt-get install chromium)")
        return None
    from bench.browser import measure

    growth, customers = len(seed["growth"]), len(seed["references"])
    user = next(i for i in range(len(seed["sessions"])) if i % 4 == 0 and i % customers >= growth)
    reference = seed["references"][user % customers][0]
    log("browser budget: each main page in Chromium, first and repeat visit")
    return measure(
        f"http://{HOST}:{portal.port}",
        seed["cookies"][user],
        {
            "dashboard": "/dashboard/",
            "request list": "/requests/",
            "request detail": f"/requests/{reference}/",
            "invoice list": "/billing/invoices/",
            "document library": "/documents/",
            "content page": CONTENT_PAGE,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short version (about 5-10 minutes)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--skip-streams", action="store_true", help="pages, growth and browser only"
    )
    parser.add_argument(
        "--only-streams",
        action="store_true",
        help="the live streams scenario alone (small seed, no report section): for iterating",
    )
    parser.add_argument("--streams", type=int, help="open streams (default 10,000; quick 2,000)")
    parser.add_argument("--hold", type=float, help="seconds of load with the streams open")
    parser.add_argument(
        "--page-rate",
        type=float,
        help="pages a second while the streams are open (default: one per user per 30 s; "
        "0: none, to see the streams alone)",
    )
    parser.add_argument(
        "--skip-two-nodes", action="store_true", help="leave out the two nodes behind nginx"
    )
    args = parser.parse_args()
    if args.only_streams and args.skip_streams:
        parser.error("--only-streams and --skip-streams exclude each other")
    quick = args.quick
    began = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (make bench does this)")

    streams = args.streams or (2000 if quick else 10_000)
    hold = args.hold if args.hold is not None else 30 if quick else 300
    users = max(10_000, streams)
    growth = (10_000, 1_000, 10) if quick else (100_000, 1_000, 10)
    if args.only_streams:
        growth = (100, 100, 10)  # the streams need users and memberships, not many requests
    results: dict[str, Any] = {"loaded": os.getloadavg()}
    with ExitStack() as stack:
        pg_url = stack.enter_context(postgres_server())
        redis_url = stack.enter_context(redis_server())
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portal-bench-")))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE_"))},
            "PORTAL_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": HOST,
            "PORTAL_SSL_REDIRECT": "0",
            "PORTAL_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"{pg_url}/postgres",
            "REDIS_URL": redis_url,
            "PORTAL_LIVE_BUS": "redis",
            "PORTAL_LIVE_MAX_STREAMS_PER_USER": "50",
            # Every client of the bench comes from 127.0.0.1: the per-address API limit
            # (600/min) would turn the API scenario into a measurement of 429 answers.
            "PORTAL_API_RATE_LIMIT": "1000000/m",
            "PORTAL_API_RATE_LIMIT_IP": "1000000/m",
            "PYTHONPATH": str(ROOT),
        }
        portal = Portal(env)
        log("migrating, collecting static files, syncing content")
        portal.manage("migrate", "--noinput", "-v", "0")
        portal.manage("collectstatic", "--noinput", "-v", "0")
        portal.manage("content", "sync")
        customers = 100
        log(
            f"seeding {customers} customers, {users:,} users, "
            f"{sum(growth) + (customers - len(growth)) * 100:,} requests with timelines, "
            "invoices, documents (about a minute or two)"
        )
        seed = json.loads(
            portal.manage(
                "shell", "--no-imports", "-c",
                f"import json, sys; from bench.seed import run; "
                f"json.dump(run(customers={customers}, users={users}, growth={growth!r}), "
                f"sys.stdout)",
                progress=True,
            )
        )  # fmt: skip
        results["data"] = {
            "customers": customers, "users": users,
            "requests": sum(growth) + (customers - len(growth)) * 100,
        }  # fmt: skip
        portal.start()
        stack.callback(portal.stop)
        seconds = 10 if quick else 15
        wrk(f"http://{HOST}:{portal.port}/healthz", None, 2)  # warm up both workers
        if not args.only_streams:
            results["pages"] = pages_scenario(portal, seed, data_dir, seconds)
            results["growth"] = growth_scenario(portal, seed, data_dir, 5 if quick else 10)
            results["browser"] = browser_scenario(portal, seed)
        if not args.skip_streams:
            results["loaded_streams"] = os.getloadavg()
            log(f"(b, d) {streams:,} live streams ({hold:.0f} s of load); load {os.getloadavg()}")
            asyncio.run(
                streams_scenario(
                    portal, seed, streams=streams, hold=hold,
                    page_rate=streams / 30 if args.page_rate is None else args.page_rate,
                    event_rate=5, results=results,
                )
            )  # fmt: skip
        if not args.skip_two_nodes and not args.only_streams:
            from bench.two_nodes import two_nodes_scenario

            portal.stop()  # the two nodes take its place on the same cores
            log("(e) two nodes behind nginx")
            results["two_nodes"] = two_nodes_scenario(
                env, seed, data_dir, seconds=seconds, streams=2000 if quick else 5000,
                hold=20 if quick else 60,
            )  # fmt: skip
        results["versions"] = versions(env, pg_url)
        results["processes"] = {"pages": portal.workers_count, "live": portal.live_workers}
    results["loaded_after"] = os.getloadavg()
    results["duration_s"] = time.monotonic() - began
    raw = ROOT / "var" / ("bench-streams.json" if args.only_streams else "bench-results.json")
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps(results, indent=2, default=str))
    log(f"raw figures in {raw}")
    if args.only_streams:
        # A partial run: the report's tables need every scenario, so only the figures print.
        print(json.dumps(results, indent=2, default=str))
        return
    write_report(Path(args.output), results, quick)
    log(f"done in {results['duration_s'] / 60:.1f} minutes; figures in {args.output}")
    print(json.dumps(results, indent=2, default=str))


def write_report(path: Path, results: dict[str, Any], quick: bool) -> None:
    pages = results["pages"]
    bare = pages["bare Django page (/healthz)"]["rps"]
    s = results.get("streams")
    command = "make bench-quick" if quick else "make bench"
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    processes = results.get("processes", {"pages": 2, "live": 2})

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rows = [
        "| page (wrk -t2 -c64) | requests/s | ratio to bare page | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in pages.items():
        rows.append(
            f"| {label} | {r['rps']:,.0f} | {r['rps'] / bare:.0%} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['non2xx'] + r['socket_errors']} |"
        )
    growth = results["growth"]
    growth_rows = [
        "| requests of the customer | list: queries | list: server ms (rendered / cached) "
        "| list: p50 / p99 ms (wrk -c64) | list req/s | detail: queries | detail: server ms "
        "| detail: p50 / p99 ms "
        "| detail req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in growth:
        lst, det = g["list"], g["detail"]
        growth_rows.append(
            f"| {g['requests']:,} | {lst['queries']} | "
            f"{lst['server_ms']:.1f} / {lst.get('cached_ms', 0):.1f} | "
            f"{lst['p50']:.1f} / {lst['p99']:.1f} | {lst['rps']:,.0f} | {det['queries']} | "
            f"{det['server_ms']:.1f} | {det['p50']:.1f} / {det['p99']:.1f} | {det['rps']:,.0f} |"
        )
    growth_rows += [
        "",
        "How PostgreSQL reads the requests for the list's first page (EXPLAIN ANALYZE):",
        "",
    ]
    for g in growth:
        scan = g["list_plan"]["request_scan"].split("(cost")[0].strip()
        growth_rows.append(f"- {g['requests']:,} requests: `{scan}`")
    small, large = growth[0], growth[-1]
    dash = pages["signed-in dashboard"]
    ratio = dash["rps"] / bare
    floor = pages.get("bare page, signed in (/healthz with a session)")
    floor_note = f" (a signed-in page doing nothing: {floor['rps'] / bare:.0%})" if floor else ""
    checks = [
        ("dashboard ≥ 35 % of the bare page", f"{ratio:.0%}{floor_note}", ratio >= 0.35),
        ("dashboard p99 at 64 clients < 100 ms", f"{dash['p99']:.0f} ms", dash["p99"] < 100),
    ]
    for key in ("list", "detail"):
        a, b = small[key], large[key]
        checks.append(
            (
                f"growth, request {key}: server time at {large['requests']:,} requests within "
                f"1.5× of {small['requests']:,}",
                f"{b['server_ms']:.1f} ms vs {a['server_ms']:.1f} ms "
                f"({b['server_ms'] / max(a['server_ms'], 1e-9):.2f}×); under wrk: p50 "
                f"{b['p50'] / max(a['p50'], 1e-9):.2f}×, throughput "
                f"{b['rps'] / max(a['rps'], 1e-9):.2f}×",
                b["server_ms"] <= 1.5 * a["server_ms"],
            )
        )
        if key == "list":
            checks.append(
                (
                    "growth: the request list is read through an index (no Seq Scan)",
                    ", ".join(
                        "seq scan" if g["list_plan"]["seq_scan"] else "index" for g in growth
                    ),
                    not any(g["list_plan"]["seq_scan"] for g in growth),
                )
            )
        checks.append(
            (
                f"growth, request {key}: query count identical",
                " / ".join(str(g[key]["queries"]) for g in growth),
                len({g[key]["queries"] for g in growth}) == 1,
            )
        )
    browser = results.get("browser")
    browser_rows: list[str] = []
    if browser:
        browser_rows = [
            "| page (Chromium) | first load KB | repeat visit KB | load ms (first / repeat) |",
            "|---|---:|---:|---:|",
        ]
        for label, b in browser.items():
            browser_rows.append(
                f"| {label} | {b['first']['transferred'] / 1024:.1f} | "
                f"{b['repeat']['transferred'] / 1024:.1f} | "
                f"{b['first']['load_ms']:.0f} / {b['repeat']['load_ms']:.0f} |"
            )
        first = max(b["first"]["transferred"] for b in browser.values())
        repeat = max(b["repeat"]["transferred"] for b in browser.values())
        load = max(b["first"]["load_ms"] for b in browser.values())
        checks += [
            ("browser: first load < 150 KB (largest page)", f"{first / 1024:.1f} KB",
             first < 150 * 1024),
            ("browser: repeat visit < 20 KB (largest page)", f"{repeat / 1024:.1f} KB",
             repeat < 20 * 1024),
            ("browser: Navigation Timing load < 500 ms (slowest page)", f"{load:.0f} ms",
             load < 500),
        ]  # fmt: skip
    if s:
        streams_ok = s["connected"] == s["streams"] and s["connect_seconds"] < 15
        checks += [
            (
                f"{s['streams']:,} streams connected within 15 s",
                f"{s['connected']:,} in {s['connect_seconds']:.1f} s",
                streams_ok,
            ),
            (
                "no thread per stream",
                f"{s['threads_before']} threads before, {s['threads_after']} with the streams open",
                s["threads_after"] - s["threads_before"] < 10,
            ),
            (
                "memory per open stream < 10 KB",
                f"{s['memory_per_stream'] / 1024:.1f} KB (server growth / streams; each stream "
                f"of the second half added {s.get('memory_per_added_stream', 0) / 1024:.1f} KB)",
                s["memory_per_stream"] < 10 * 1024,
            ),
            (
                "zero errors",
                f"pages {s['page_errors']}, streams {s['stream_errors']}",
                s["page_errors"] == 0 and s["stream_errors"] == 0,
            ),
            (
                "page p95 under load < 250 ms",
                f"{s['page_p95']:.0f} ms ({s['pages']:,} pages at {s['page_rate']:.0f}/s)",
                s["page_p95"] < 250,
            ),
            (
                "event delivery p99 < 500 ms",
                f"{s['delivery_p99']:.0f} ms (p50 {s['delivery_p50']:.0f} ms, "
                f"{s['deliveries']:,} deliveries of {s['events']:,} changes)",
                s["delivery_p99"] < 500,
            ),
            (
                "after a reconnect storm every client has every event",
                f"{s['clients_missing_events']} clients missing events; "
                f"all back in {s['storm_seconds']:.1f} s",
                s["clients_missing_events"] == 0,
            ),
        ]
    targets = ["| target | figure | |", "|---|---|---|"]
    targets += [f"| {label} | {figure} | {mark(ok)} |" for label, figure, ok in checks]
    load_before, load_after = results["loaded"], results["loaded_after"]
    # Only the load before the run tells of other work: the one after is the bench's own.
    busy = load_before[0] > 1.5
    data = results["data"]
    streams_text = (
        [
            f"Live streams: {s['streams']:,} signed-in users each holding a stream "
            f"({s.get('hold', 30 if quick else 300):.0f} s), pages at about one per user per 30 s, "
            "5 changes a second for random customers (each a request's status saved with its "
            "timeline entry, and an event reaching that customer's ~100 users). Before the "
            "streams open, each user loads the dashboard once, as a browser loads the page "
            f"that opens its stream: {s.get('first_views_rate', 0):.0f} first views a second, "
            f"p95 {s.get('first_views_p95', 0):.0f} ms.",
            "",
            *(
                [
                    "Pages in each minute of the hold (answered a second, p95): "
                    + "; ".join(
                        f"{m['minute']}: {m['rate']:.0f}/s, {m['p95']:,.0f} ms"
                        for m in s["page_minutes"]
                    )
                    + ".",
                    "",
                ]
                if s.get("page_minutes")
                else []
            ),
        ]
        if s
        else ["Live streams: not run (`--skip-streams`).", ""]
    )
    section = "\n".join(
        [
            f"## {'Quick run' if quick else 'Full run'}: {today}",
            "",
            f"Command: `{command}` (`bench/run.py{' --quick' if quick else ''}`), "
            f"{results['duration_s'] / 60:.1f} minutes · {results['versions']}",
            "",
            f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f}"
            + (
                " — **taken on a busy machine** (other work on the same cores): compare the "
                "ratios, not the absolute figures."
                if busy
                else "."
            ),
            "",
            "Production topology on one machine: Debian's nginx with deploy/'s locations in "
            f"front of uWSGI with {processes['pages']} processes for the pages "
            f"(`serve --only pages`) and uvicorn with {processes['live']} processes for the live "
            "stream (`serve --only live`), PostgreSQL, Redis cache, sessions and bus, production "
            "settings (the request log at INFO, its default); wrk and the stream clients run "
            f"on the same 2 cores. Data: {data['customers']} customers, {data['users']:,} users, "
            f"{data['requests']:,} service requests with timelines, invoices, documents. "
            "The bare Django page is `/healthz`: a Django view through the whole middleware "
            "stack, no database, no template. Signed-in pages rotate over 200 admins' "
            "sessions (the API over 50 tokens).",
            "",
            "### (a) Pages",
            "",
            *rows,
            "",
            "### (c) Growth: one customer's request list and a request's page",
            "",
            "Queries and server ms: one page view inside a Django process, production settings, "
            "same database (median of 21 views; the target is checked on this figure, which "
            "queueing on a busy machine disturbs least). Rendered: the customer's version moved "
            "on before each view, as a change of its data does, so the page is built again; "
            "cached: the answer from the page cache. p50 / p99 and requests/s: wrk -t2 -c64 "
            "on the running server over that customer's users (mostly cached answers).",
            "",
            *growth_rows,
            "",
            *(["### Browser budget", "", *browser_rows, ""] if browser_rows else []),
            "### (b, d) Live streams and targets",
            "",
            *streams_text,
            *targets,
            "",
            *two_nodes_report(results.get("two_nodes")),
        ]
    )
    header = HEADER
    old = path.read_text() if path.exists() else ""
    # The earlier sections, newest first, without the introduction (whatever its
    # wording was when they were written: the one above replaces it).
    at = old.find("\n## ")
    body = old[at + 1 :] if at >= 0 else ""
    path.write_text(header + section + "\n" + body)


def two_nodes_report(two: dict[str, Any] | None) -> list[str]:
    """The section of (e): two nodes behind nginx."""
    if not two:
        return []
    pages, streams = two["pages"], two["streams"]
    bare = pages["bare Django page (/healthz)"]["rps"]
    lines = [
        "### (e) Two nodes behind nginx",
        "",
        "The same portal twice (each node one uWSGI process for the pages and one uvicorn "
        "process for the live stream), Debian's nginx in front with "
        "`deploy/nginx/portal-locations.conf`, sharing PostgreSQL and Redis, on the same 2 "
        "cores. Signed-in pages rotate over 200 sessions, which nginx spreads over both nodes.",
        "",
        "| page through nginx (wrk -t2 -c64) | requests/s | ratio to its bare page | "
        "p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in pages.items():
        lines.append(
            f"| {label} | {r['rps']:,.0f} | {r['rps'] / bare:.0%} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['non2xx'] + r['socket_errors']} |"
        )
    ok = (
        streams["connected"] == streams["streams"]
        and streams["clients_missing_events"] == 0
        and all(streams["per_node"])
    )
    lines += [
        "",
        f"Live streams through nginx: {streams['connected']:,} of {streams['streams']:,} "
        f"connected in {streams['connect_seconds']:.1f} s, held by the nodes as "
        f"{' + '.join(f'{n:,}' for n in streams['per_node'])}; {streams['events']:,} changes "
        f"committed by a third process reached {streams['deliveries']:,} streams (p50 "
        f"{streams['delivery_p50']:.0f} ms, p99 {streams['delivery_p99']:.0f} ms); clients "
        f"missing an event: {streams['clients_missing_events']}; stream errors: "
        f"{streams['stream_errors']}. Every stream on either node got every event of its "
        f"customer: {'yes' if ok else '**no**'}.",
        "",
    ]
    return lines


if __name__ == "__main__":
    main()
