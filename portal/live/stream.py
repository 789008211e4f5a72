"""``/live/events``: the Server-Sent Events stream, a lean ASGI handler beside Django.

The browser authenticates once, at connect, with its Django session cookie; a
script does with a personal access token (``Authorization: Bearer``, read
access is enough), and then sees what the token's customer membership may see.
With ``Last-Event-ID`` (sent by the browser when it reconnects) or
``?last_event_id=`` (the id the page was rendered at) it first gets what it
missed from the event table, then what the hub hands it, then a heartbeat
comment whenever the stream has been quiet for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from urllib.parse import parse_qs

from django.conf import settings

from portal.core import metrics
from portal.router import Receive, Scope, Send

from .audience import Viewer
from .authentication import Credentials, authenticate
from .hub import Event, Stream, get_hub
from .protocol import HANDOFF, LIVE_PATH, Handoff

__all__ = ["PATH", "Credentials", "authenticate", "live_app"]

logger = logging.getLogger(__name__)
PATH = LIVE_PATH


async def live_app(scope: Scope, receive: Receive, send: Send) -> None:
    # Counted here rather than by a wrapper around the app: a wrapper's frame and
    # closure would stay in memory for as long as each stream is open.
    started = time.perf_counter()
    try:
        await _live(scope, receive, send, started)
    except Exception:
        _observe(scope, 500, started)
        raise


def _observe(scope: Scope, status: int, started: float) -> None:
    route = "live:events" if scope.get("path") == PATH else "unmatched"
    metrics.observe_request(
        route=route,
        method=scope.get("method"),
        status=status,
        seconds=time.perf_counter() - started,
    )


async def _refuse(
    scope: Scope,
    started: float,
    send: Send,
    status: int,
    text: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    _observe(scope, status, started)
    await _plain(send, status, text, extra)


async def _live(scope: Scope, receive: Receive, send: Send, started: float) -> None:
    if scope["path"] != PATH:
        await _refuse(scope, started, send, 404, "Not found.")
        return
    if scope["method"] != "GET":
        await _refuse(scope, started, send, 405, "Use GET.", [(b"allow", b"GET")])
        return
    try:
        last_id, credentials = _request_details(scope)
    except ValueError:
        await _refuse(scope, started, send, 400, "Last-Event-ID must be a whole number.")
        return
    hub = await get_hub()
    # Batched with the other connects waiting (see authentication.py).
    viewer: Viewer | None = await hub.authenticate(credentials)
    del credentials
    if viewer is None:
        # Who asked is unknown; the address is what there is (no cookie or token is logged).
        logger.info("live stream refused: not signed in", extra={"client": _client(scope)})
        await _refuse(
            scope, started, send, 401, "Sign in, or send a valid token, to receive live updates."
        )
        return
    if hub.streams_of(viewer.user_id) >= settings.PORTAL_LIVE_MAX_STREAMS_PER_USER:
        await _refuse(
            scope, started, send, 429, "Too many open live streams.", [(b"retry-after", b"30")]
        )
        return

    stream = hub.register(viewer)
    handed_off = False
    try:
        await hub.resume()
        _observe(scope, 200, started)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
                    *_security_headers(),
                ],
            }
        )
        await _body(send, b"retry: 2000\n\n")
        sent: set[int] | None = None
        if last_id is not None:
            limit = settings.PORTAL_LIVE_REPLAY_LIMIT
            # From the hub's memory when it reaches back that far, else from the table.
            missed = hub.missed(viewer, last_id, limit + 1)
            if missed is None:
                missed = await hub.read(_replay, viewer, last_id, limit + 1)
            if len(missed) > limit:
                # Too much to replay: the page starts afresh.
                await _body(send, b"event: reload\ndata: {}\n\n")
                return
            for event in missed:
                await _body(send, event.frame)
            sent = {event.id for event in missed} or None
            del missed
        handoff: Handoff | None = (scope.get("extensions") or {}).get(HANDOFF)
        # Under our uvicorn protocol the hub takes the connection from here: no task,
        # coroutine or timer stays behind per stream (see protocol.py).
        if handoff is not None and handoff(hub, stream, sent, _lifetime()):
            handed_off = True
            return
        await _pump(receive, send, stream, sent)
    except OSError:
        pass  # the client went away while we wrote
    finally:
        if not handed_off:
            hub.unregister(stream)
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _pump(receive: Receive, send: Send, stream: Stream, sent: set[int] | None) -> None:
    loop = asyncio.get_running_loop()
    heartbeat = settings.PORTAL_LIVE_HEARTBEAT
    deadline = loop.time() + _lifetime()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        if not (stream.pending or stream.closed):
            timer = loop.call_later(min(heartbeat, remaining), stream.wake)
            try:
                if not await _idle(receive, stream):
                    return  # the client went away
            finally:
                timer.cancel()
            if not (stream.pending or stream.closed):
                await _body(send, b": heartbeat\n\n")  # woken by the timer
                continue
        events = stream.take()
        if sent:
            events = [event for event in events if event.id not in sent]  # already replayed
        if events:
            await _body(send, b"".join(event.frame for event in events))
        if stream.closed:
            return


def _lifetime() -> float:
    """Seconds a stream stays open: spread, so streams opened together do not all
    reconnect together."""
    spread = random.uniform(0.9, 1.0)  # noqa: S311 - not security
    return settings.PORTAL_LIVE_MAX_STREAM_SECONDS * spread


async def _idle(receive: Receive, stream: Stream) -> bool:
    """Wait for the client to go away (False) or the hub to wake the stream (True).

    One wait per connection instead of a watcher task and a future beside it
    (10,000 of them per process): the connection's own task waits for the
    client's disconnect, and the hub interrupts that wait by cancelling it.
    """
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("a live stream runs in a task")
    stream.task = task
    try:
        while True:
            if (await receive())["type"] == "http.disconnect":
                return False
            # The request body (none is expected for GET): read on.
    except asyncio.CancelledError:
        if stream.task is not None or task.uncancel() > 0:
            raise  # cancelled by someone else: the server is stopping
        return True
    finally:
        stream.task = None


def _security_headers() -> list[tuple[bytes, bytes]]:
    """What Django's middleware adds to pages, for responses made outside Django."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        # Nothing in an event stream or a JSON error is ever rendered as a page.
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    ]
    if settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append((b"strict-transport-security", hsts.encode()))
    return headers


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _plain(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"status": status, "detail": text}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode()),
        *_security_headers(),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_details(scope: Scope) -> tuple[int | None, Credentials]:
    """The event id to replay after (header, else query) and the request's credentials."""
    raw: str | None = None
    cookie = user_agent = ""
    authorization: str | None = None
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            raw = value.decode("latin-1")
        elif name == b"cookie":
            cookie = value.decode("latin-1")
        elif name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")
    client = scope.get("client")
    credentials = Credentials(cookie, authorization, user_agent, client[0] if client else None)
    if raw is None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("last_event_id")
        raw = values[0] if values else None
    if raw is None or raw.strip() == "":
        return None, credentials
    value = int(raw.strip())
    if value < 0:
        raise ValueError(raw)
    return value, credentials


def _replay(viewer: Viewer, after_id: int, limit: int) -> list[Event]:
    from .selectors import live_events_after

    return [
        Event.from_row(row)
        for row in live_events_after(viewer=viewer, after_id=after_id, limit=limit)
    ]
