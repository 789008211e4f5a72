"""(e) Two app nodes behind nginx, sharing PostgreSQL and Redis (issue 10, item 4).

The same portal started twice (each node one uWSGI process for the pages,
so the two nodes together have the single node's two, and one uvicorn process
for the live stream), Debian's nginx in front with the locations of
``deploy/nginx/portal-locations.conf``. Pages go through
nginx to whichever node it picks: every answer being 200 for 200 sessions
shows the sessions work on both. Live streams are spread over both nodes;
changes are committed by a third process, and every client must receive every
event of its customer, whichever node holds its stream.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.clients import StreamClient, StreamFleet
from bench.front import nginx_front
from bench.run import (
    HOST,
    Emitter,
    Portal,
    log,
    percentile,
    request_lines,
    touch_sessions,
    wrk,
)


def open_streams(node: Portal) -> int:
    """The node's open live streams, from its Prometheus metrics."""
    text = httpx.get(f"http://{HOST}:{node.live_port}/metrics", timeout=10).text
    return int(
        sum(
            float(v)
            for v in re.findall(r"^portal_live_streams_open(?:\{[^}]*\})? (\S+)$", text, re.M)
        )
    )


async def _streams_across(
    port: int, nodes: list[Portal], seed: dict[str, Any], env: dict[str, str],
    streams: int, hold: float, event_rate: float,
) -> dict[str, Any]:  # fmt: skip
    cookies, customer_of = seed["cookies"], seed["customer_of_user"]
    clients = [StreamClient(i, cookies[i], last_id=None) for i in range(streams)]
    fleet = StreamFleet(clients, HOST, port)
    started = time.monotonic()
    await fleet.connect_all(clients)
    connect_seconds = time.monotonic() - started
    connected = sum(1 for c in clients if c.connected_at)
    await asyncio.sleep(1)
    per_node = [open_streams(node) for node in nodes]
    log(f"(e) {connected} streams through nginx in {connect_seconds:.1f} s; per node {per_node}")
    emitted = await Emitter(env, rate=event_rate, seconds=hold).finished()
    await fleet.settle(at_most=30, quiet=3)
    await fleet.close()
    deliveries = fleet.deliveries
    missing = fleet.missing(emitted, customer_of)
    return {
        "streams": streams,
        "connected": connected,
        "connect_seconds": connect_seconds,
        "per_node": per_node,
        "events": sum(len(v) for v in emitted.values()),
        "deliveries": len(deliveries),
        "delivery_p50": percentile(deliveries, 50) * 1000,
        "delivery_p99": percentile(deliveries, 99) * 1000,
        "clients_missing_events": missing,
        "stream_errors": sum(c.errors for c in clients),
    }


def two_nodes_scenario(
    env: dict[str, str], seed: dict[str, Any], work: Path, *, seconds: int, streams: int,
    hold: float,
) -> dict[str, Any]:  # fmt: skip
    """Pages (bare and dashboard) and live streams through nginx over two nodes."""
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        # Each node counts its own metrics, as on two machines (serve would otherwise
        # share, and reset, the directory under the common data directory).
        nodes = [
            Portal(
                {**env, "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-node-{n}")},
                workers=1,
                live_workers=1,
                front=False,
            )
            for n in (1, 2)
        ]
        for node in nodes:
            node.start()
            stack.callback(node.stop)
        port = stack.enter_context(
            nginx_front(
                [f"{HOST}:{node.pages_port}" for node in nodes],
                [f"{HOST}:{node.live_port}" for node in nodes],
                work / "nginx",
                streams + 1000,
            )
        )
        base = f"http://{HOST}:{port}"
        cookies = seed["cookies"]
        admins = [i for i in range(len(cookies)) if i % 4 == 0][:200]
        touch_sessions(base, [cookies[i] for i in admins])
        signed_in = [("/dashboard/", "Cookie", cookies[i]) for i in admins]
        plans = {
            "bare Django page (/healthz)": [("/healthz", "", "")],
            "signed-in dashboard": signed_in,
        }
        pages: dict[str, Any] = {}
        for n, (label, rows) in enumerate(plans.items()):
            log(f"(e) two nodes: wrk {label} through nginx ({seconds} s)")
            lines = request_lines(work / f"two-nodes-{n}.tsv", rows)
            wrk(base + rows[0][0], None, 2, requests=lines)
            pages[label] = wrk(base + rows[0][0], None, seconds, requests=lines)
        results["pages"] = pages
        log(f"(e) two nodes: {streams:,} live streams through nginx, {hold:.0f} s of changes")
        results["streams"] = asyncio.run(
            _streams_across(port, nodes, seed, env, streams, hold, event_rate=5)
        )
    return results
