"""``make bench``: the portal in its production topology under load, figures to docs/benchmarks.md.

Topology: PostgreSQL and Redis of their own, `manage.py serve` (uvicorn, 2
worker processes, pages through a2wsgi to Django's WSGI app, the live stream
as a native ASGI handler), the Redis bus, production settings. Load comes from
wrk (pages) and from this process (live streams, paced page views).
Every throughput is also given as a ratio to a bare Django page (/healthz)
measured on the same server in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
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

from bench.clients import StreamClient, get, run_stream  # noqa: E402
from tests.server import free_port  # noqa: E402
from tests.services import postgres_server, redis_server  # noqa: E402

HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Portal:
    """The portal's server processes with production settings."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, input=stdin,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--no-banner", "--no-worker",
             "--host", HOST, "--port", str(self.port), "--workers", "2"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{HOST}:{self.port}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the portal did not start")

    def workers(self) -> list[int]:
        """The uvicorn worker processes (children of the server's parent)."""
        assert self.process is not None
        parent = self.process.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(stat.parent.name))
        return children or [parent]

    def memory_and_threads(self) -> tuple[int, int]:
        rss = threads = 0
        for pid in self.workers():
            status = Path(f"/proc/{pid}/status").read_text()
            rss += int(re.search(r"VmRSS:\s+(\d+)", status)[1]) * 1024  # type: ignore[index]
            threads += int(re.search(r"Threads:\s+(\d+)", status)[1])  # type: ignore[index]
        return rss, threads

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wrk(url: str, cookie: str | None, seconds: int, connections: int = 64) -> dict[str, Any]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        argv[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
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
    name, sessions = seed["cookie_name"], seed["sessions"]
    customer_of = seed["customer_of_user"]
    clients = [StreamClient(i, f"{name}={sessions[i]}") for i in range(streams)]
    deliveries: list[float] = []

    def on_event(client: StreamClient, event_id: int, data: dict[str, Any]) -> None:
        sent_at = data.get("data", {}).get("t")  # type: ignore[union-attr]
        if sent_at is None:
            return
        delay = time.time() - float(sent_at)
        client.received[event_id] = delay
        deliveries.append(delay)

    rss0, threads0 = portal.memory_and_threads()
    log(f"opening {streams} live streams")
    started = time.monotonic()
    gate = asyncio.Semaphore(500)
    tasks: list[asyncio.Task[None]] = []

    async def connect(client: StreamClient) -> None:
        async with gate:
            client.ready = asyncio.Event()
            task = asyncio.create_task(run_stream(client, HOST, portal.port, on_event))
            tasks.append(task)
            task.add_done_callback(lambda _: client.ready.set())
            await client.ready.wait()

    await asyncio.gather(*(connect(c) for c in clients))
    connected = sum(1 for c in clients if c.connected_at)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    rss1, threads1 = portal.memory_and_threads()
    log(
        f"{connected} connected in {connect_seconds:.1f} s; "
        f"server RSS +{(rss1 - rss0) / 2**20:.0f} MiB"
    )

    # Pages at a steady pace from signed-in users, while changes stream out.
    page_latencies: list[float] = []
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
            next_at += interval
            user = rng.randrange(len(sessions))
            begun = time.monotonic()
            try:
                status, _ = await get(
                    reader, writer, HOST, "/dashboard/", f"{name}={sessions[user]}"
                )
            except (ConnectionError, asyncio.IncompleteReadError):
                page_errors += 1
                reader, writer = await asyncio.open_connection(HOST, portal.port)
                continue
            page_latencies.append((time.monotonic() - begun) * 1000)
            if status != 200:
                page_errors += 1
        writer.close()

    emitted_log = tempfile.TemporaryFile("w+")
    emitter = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         f"from bench.emitter import run; run(rate={event_rate}, seconds={hold + 20})"],
        cwd=ROOT, env=portal.env, stdout=emitted_log, text=True,
    )  # fmt: skip
    page_workers = [asyncio.create_task(page_worker(i, 32)) for i in range(32)]
    log(f"holding for {hold:.0f} s: {page_rate:.0f} pages/s, {event_rate:.0f} changes/s")
    await asyncio.sleep(hold)
    stop_pages.set()
    await asyncio.gather(*page_workers, return_exceptions=True)
    hold_deliveries = list(deliveries)

    # Reconnect storm: every stream drops and comes back with Last-Event-ID.
    log("reconnect storm: dropping every stream")
    for client in clients:
        if client.writer is not None:
            client.writer.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()
    storm_started = time.monotonic()
    for client in clients:
        client.connected_at = 0.0
    await asyncio.gather(*(connect(c) for c in clients))
    storm_seconds = time.monotonic() - storm_started
    log(f"all back in {storm_seconds:.1f} s; letting the changes finish")
    while emitter.poll() is None:
        await asyncio.sleep(0.5)
    emitted_log.seek(0)
    out = emitted_log.read()
    # Wait until deliveries settle: nothing new for 3 s (at most 60 s).
    settle_deadline = time.monotonic() + 60
    seen = -1
    while len(deliveries) != seen and time.monotonic() < settle_deadline:
        seen = len(deliveries)
        await asyncio.sleep(3)
    for client in clients:
        if client.writer is not None:
            client.writer.close()
    await asyncio.gather(*tasks, return_exceptions=True)

    emitted: dict[int, set[int]] = {}
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            emitted.setdefault(row["customer"], set()).add(row["id"])
    incomplete = sum(
        1 for c in clients if not emitted.get(customer_of[c.index], set()) <= set(c.received)
    )
    results["streams"] = {
        "streams": streams,
        "connected": connected,
        "connect_seconds": connect_seconds,
        "memory_per_stream": (rss1 - rss0) / max(connected, 1),
        "threads_before": threads0,
        "threads_after": threads1,
        "pages": len(page_latencies),
        "page_rate": len(page_latencies) / hold,
        "page_p50": percentile(page_latencies, 50),
        "page_p95": percentile(page_latencies, 95),
        "page_errors": page_errors,
        "events": sum(len(v) for v in emitted.values()),
        "deliveries": len(hold_deliveries),
        "delivery_p50": percentile(hold_deliveries, 50) * 1000,
        "delivery_p99": percentile(hold_deliveries, 99) * 1000,
        "storm_seconds": storm_seconds,
        "clients_missing_events": incomplete,
        "stream_errors": sum(c.errors for c in clients),
    }


def versions(env: dict[str, str], pg_url: str) -> str:
    import django
    import uvicorn

    pg = subprocess.run(
        [sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))[-1], "--version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    redis_version = re.search(r"v=([\d.]+)", redis)
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"uvicorn {uvicorn.__version__}, {pg}, Redis {redis_version[1] if redis_version else '?'}; "
        f"{os.cpu_count()} cores ({cpu[1] if cpu else 'unknown CPU'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a one-minute version")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    quick = args.quick
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (make bench does this)")

    streams = 2000 if quick else 10_000
    users = max(streams, 2000 if quick else 10_000)
    results: dict[str, Any] = {}
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
            "PORTAL_LOG_LEVEL": "WARNING",
            "PORTAL_LIVE_MAX_STREAMS_PER_USER": "50",
            "PYTHONPATH": str(ROOT),
        }
        portal = Portal(env)
        log("migrating and loading bench data")
        portal.manage("migrate", "--noinput", "-v", "0")
        portal.manage("collectstatic", "--noinput", "-v", "0")
        customers = 100
        seed = json.loads(
            portal.manage(
                "shell", "--no-imports", "-c",
                f"import json, sys; from bench.seed import run; "
                f"json.dump(run(customers={customers}, users={users}), sys.stdout)",
            )
        )  # fmt: skip
        portal.start()
        stack.callback(portal.stop)
        cookie = f"{seed['cookie_name']}={seed['sessions'][0]}"
        base = f"http://{HOST}:{portal.port}"
        seconds = 5 if quick else 10
        pages = {
            "bare Django page (/healthz)": ("/healthz", None),
            "signed-in dashboard": ("/dashboard/", cookie),
            "notifications list": ("/notifications/", cookie),
        }
        wrk(f"{base}/healthz", None, 2)  # warm up both workers
        wrk(f"{base}/dashboard/", cookie, 2)
        results["pages"] = {}
        for label, (path, page_cookie) in pages.items():
            log(f"wrk {path}")
            results["pages"][label] = wrk(base + path, page_cookie, seconds)
        asyncio.run(
            streams_scenario(
                portal, seed, streams=streams, hold=30 if quick else 300,
                page_rate=streams / 30, event_rate=5, results=results,
            )
        )  # fmt: skip
        results["versions"] = versions(env, pg_url)
    write_report(Path(args.output), results, quick)
    print(json.dumps(results, indent=2, default=str))


def write_report(path: Path, results: dict[str, Any], quick: bool) -> None:
    pages = results["pages"]
    bare = pages["bare Django page (/healthz)"]["rps"]
    s = results["streams"]
    command = "make bench-quick" if quick else "make bench"
    today = datetime.datetime.now(datetime.UTC).date().isoformat()

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
    dash = pages["signed-in dashboard"]
    ratio = dash["rps"] / bare
    streams_ok = s["connected"] == s["streams"] and s["connect_seconds"] < 15
    checks = [
        ("dashboard ≥ 35 % of the bare page", f"{ratio:.0%}", ratio >= 0.35),
        ("dashboard p99 at 64 clients < 100 ms", f"{dash['p99']:.0f} ms", dash["p99"] < 100),
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
            f"{s['memory_per_stream'] / 1024:.1f} KB",
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
    section = "\n".join(
        [
            f"## {'Quick run' if quick else 'Full run'}: {today}",
            "",
            f"Command: `{command}` · {results['versions']}",
            "",
            "Production topology on one machine: uvicorn with 2 worker processes (pages through "
            "a2wsgi to Django's WSGI app, the live stream native), PostgreSQL, Redis bus, "
            "production settings; wrk and the stream clients run on the same 2 cores.",
            "",
            *rows,
            "",
            f"Live streams: {s['streams']:,} signed-in users each holding a stream "
            f"({'30 s' if quick else '5 minutes'}), pages at about one per user per 30 s, "
            "5 changes a second for random customers (each reaching that customer's ~100 users).",
            "",
            *targets,
            "",
        ]
    )
    header = (
        "# Benchmarks\n\nFigures from `bench/run.py`. These machines are noisy: compare the "
        "ratios within one run rather than absolute figures across runs. Newest first.\n\n"
    )
    old = path.read_text() if path.exists() else header
    body = old[len(header) :] if old.startswith(header) else old
    path.write_text(header + section + "\n" + body)


if __name__ == "__main__":
    main()
