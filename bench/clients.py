"""Minimal HTTP/1.1 on asyncio streams: cheap enough to hold 10,000 connections in one process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What each client sends as its browser: the one its seeded session was signed in
# with (bench/seed.py; bench/pages.lua repeats it for wrk), as a real session's
# browser is the one that signed in.
USER_AGENT = "bench"


@dataclass
class StreamClient:
    """One browser's live stream: what it received, and when."""

    index: int
    cookie: str
    last_id: int | None = None
    received: dict[int, float] = field(default_factory=dict)  # event id -> delivery seconds
    connected_at: float = 0.0
    errors: int = 0
    writer: asyncio.StreamWriter | None = None
    ready: asyncio.Event | None = None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def run_stream(
    client: StreamClient,
    host: str,
    port: int,
    on_event: Callable[[StreamClient, int, dict[str, object]], None],
) -> None:
    """Connect (with Last-Event-ID when known) and read events until the socket closes."""
    reader, writer = await asyncio.open_connection(host, port)
    client.writer = writer
    last = f"Last-Event-ID: {client.last_id}\r\n" if client.last_id is not None else ""
    writer.write(
        f"GET /live/events HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Cookie: {client.cookie}\r\n"
        f"Accept: text/event-stream\r\n{last}\r\n".encode()
    )
    status, _ = await _read_head(reader)
    if status != 200:
        client.errors += 1
        writer.close()
        return
    client.connected_at = time.monotonic()
    if client.ready is not None:
        client.ready.set()
    buffer = b""
    try:
        while True:
            size_line = await reader.readline()
            if not size_line:
                break
            size = int(size_line.strip() or b"0", 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            buffer += chunk[:-2]
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                event_id, data = None, None
                for line in frame.split(b"\n"):
                    if line.startswith(b"id: "):
                        event_id = int(line[4:])
                    elif line.startswith(b"data: "):
                        data = json.loads(line[6:])
                if event_id is not None and data is not None:
                    client.last_id = event_id
                    on_event(client, event_id, data)
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, cookie: str
) -> tuple[int, int]:
    """One keep-alive GET; returns (status, body bytes)."""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Cookie: {cookie}\r\n\r\n".encode()
    )
    status, headers = await _read_head(reader)
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return status, len(body)
    total = 0
    while True:
        size = int((await reader.readline()).strip(), 16)
        data = await reader.readexactly(size + 2)
        total += size
        if size == 0:
            return status, total
        del data


class StreamFleet:
    """Many clients' live streams against one address: connected at most ``gate`` at a
    time, each event's delivery time (from the ``t`` the emitter puts in its data) kept."""

    def __init__(self, clients: list[StreamClient], host: str, port: int, gate: int = 500):
        self.clients = clients
        self.host, self.port = host, port
        self.deliveries: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []
        self._gate = asyncio.Semaphore(gate)

    def on_event(self, client: StreamClient, event_id: int, data: dict[str, object]) -> None:
        payload = data.get("data")
        sent_at = payload.get("t") if isinstance(payload, dict) else None
        if sent_at is None:
            return
        delay = time.time() - float(sent_at)
        client.received[event_id] = delay
        self.deliveries.append(delay)

    async def connect(self, client: StreamClient) -> None:
        """Open ``client``'s stream; returns once it is answered (or has failed)."""
        async with self._gate:
            ready = client.ready = asyncio.Event()
            task = asyncio.create_task(run_stream(client, self.host, self.port, self.on_event))
            self.tasks.append(task)
            task.add_done_callback(lambda _: ready.set())
            await ready.wait()

    async def connect_all(self, clients: list[StreamClient]) -> None:
        await asyncio.gather(*(self.connect(client) for client in clients))

    async def settle(self, *, at_most: float, quiet: float) -> None:
        """Wait until no delivery arrived for ``quiet`` seconds (``at_most`` in all)."""
        deadline = time.monotonic() + at_most
        seen = -1
        while len(self.deliveries) != seen and time.monotonic() < deadline:
            seen = len(self.deliveries)
            await asyncio.sleep(quiet)

    async def close(self) -> None:
        for client in self.clients:
            if client.writer is not None:
                client.writer.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()

    def missing(self, emitted: dict[int, set[int]], customer_of: list[int]) -> int:
        """Clients that lack an event committed for their customer."""
        return sum(
            1
            for c in self.clients
            if not emitted.get(customer_of[c.index], set()) <= set(c.received)
        )
