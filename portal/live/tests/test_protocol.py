"""The hand-off of open live streams from uvicorn to the hub (portal/live/protocol.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from portal.accounts.models import User
from portal.live import hub as hub_module
from portal.live import stream as stream_module
from portal.live.audience import Viewer
from portal.live.buses.database import DatabaseBus
from portal.live.hub import Event, Hub, Stream
from portal.live.protocol import Wire
from portal.live.tests.test_stream import cookies_for, emit, hub_caught_up, stream
from tests.server import PortalServer

pytestmark = pytest.mark.django_db(transaction=True)


def running_hub() -> Hub:
    hub = hub_module._hub
    assert hub is not None
    return hub


def stream_of(user: User, timeout: float = 2.0) -> Stream:
    """``user``'s open stream in the server's hub, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub_module._hub is not None:
            found = [s for s in list(hub_module._hub.streams) if s.viewer.user_id == user.pk]
            if found and (found[0].wire is not None or found[0].task is not None):
                return found[0]
        time.sleep(0.01)
    raise AssertionError("no open stream")


def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone(user: User, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(s.viewer.user_id == user.pk for s in list(running_hub().streams)):
            return True
        time.sleep(0.02)
    return False


def on_hub_loop(function: Callable[[], None]) -> None:
    loop = running_hub().loop
    assert loop is not None
    done = threading.Event()

    def run() -> None:
        function()
        done.set()

    loop.call_soon_threadsafe(run)
    assert done.wait(5)


def open_raw(
    server: PortalServer, user: User, *, receive_buffer: int | None = None
) -> socket.socket:
    """A stream read byte by byte, to see the chunked body as it is sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    name = settings.SESSION_COOKIE_NAME
    cookie = cookies_for(user)[name]
    sock.sendall(
        f"GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {name}={cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with the last (empty) chunk."""
    data = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return data, body == b"\r\n"
        assert body[size : size + 2] == b"\r\n", "a malformed chunk"
        data, body = data + body[:size], body[size + 2 :]
    return data, False


def test_an_open_stream_leaves_uvicorn_for_the_hub(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    state = portal_server._server.server_state
    with stream(portal_server, member) as client:
        assert client.status == 200
        opened = stream_of(member)
        assert opened.wire is not None and opened.task is None
        # Neither a connection uvicorn waits for nor a task of its own is left.
        assert not any(
            getattr(connection, "transport", None) is opened.wire.transport
            for connection in state.connections
        )
        assert eventually(lambda: not state.tasks)  # the request's task ends after the hand-off
        event_id = emit(two_customers["acme"])
        assert client.next().id == str(event_id)
    assert gone(member)


def test_without_the_offer_the_stream_stays_in_asgi(
    portal_server: PortalServer, two_customers: dict[str, Any], both_paths: str
) -> None:
    member = two_customers["member"]
    with stream(portal_server, member) as client:
        assert client.status == 200
        opened = stream_of(member)
        assert (opened.wire is not None) == (both_paths == "handed-off")
        assert (opened.task is not None) == (both_paths == "asgi")
        tasks = portal_server._server.server_state.tasks
        if both_paths == "asgi":
            assert tasks  # the request's task waits for as long as the stream is open
        else:
            assert eventually(lambda: not tasks)


def test_events_that_arrive_during_a_replay_are_sent_once(
    portal_server: PortalServer, two_customers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, member = two_customers["acme"], two_customers["member"]
    seen, missed = emit(acme), emit(acme)
    during: list[int] = []
    from_the_table = stream_module._replay

    def replay_while_an_event_arrives(viewer: Viewer, after_id: int, limit: int) -> list[Event]:
        # Committed now: the hub hands it to the registered stream, and the table
        # read below finds it too.
        during.append(emit(acme))
        hub, deadline = running_hub(), time.monotonic() + 3
        while time.monotonic() < deadline:  # until the hub has dispatched it
            if hub.cursor >= during[0] or during[0] in hub.seen_above_cursor:
                break
            time.sleep(0.01)
        return from_the_table(viewer, after_id, limit)

    monkeypatch.setattr(stream_module, "_replay", replay_while_an_event_arrives)
    monkeypatch.setattr(Hub, "missed", lambda *args: None)  # the table, not memory
    # A hub that lags would hand the new stream ``seen`` too (the client drops such a
    # repeat, see live.js); that is not the case under test.
    hub_caught_up()
    with stream(portal_server, member, **{"Last-Event-ID": str(seen)}) as client:
        assert [client.next(5).id, client.next().id] == [str(missed), str(during[0])]
        assert client.nothing_within(0.5)
        assert stream_of(member).wire is not None
        later = emit(acme)
        assert client.next().id == str(later)


def test_a_stream_past_its_lifetime_ends_its_body_and_the_client_reconnects(
    portal_server: PortalServer, two_customers: dict[str, Any], settings: Any
) -> None:
    settings.PORTAL_LIVE_HEARTBEAT = 0.2
    settings.PORTAL_LIVE_MAX_STREAM_SECONDS = 1
    member = two_customers["member"]
    with open_raw(portal_server, member) as sock:
        assert stream_of(member).wire is not None
        head, _, body = read_to_end(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding: chunked" in head.lower()
    data, complete = dechunk(body)
    assert complete  # the last chunk, then the close: not a broken connection
    assert data.startswith(b"retry: 2000\n\n")
    assert b": heartbeat\n\n" in data
    assert gone(member)
    with stream(portal_server, member) as again:
        assert again.status == 200


def test_a_client_that_does_not_read_is_dropped(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    with open_raw(portal_server, member, receive_buffer=4096) as sock:
        opened = stream_of(member)
        assert opened.wire is not None
        big = Event(
            id=0, kind="k", customer_id=None, permission="", user_id=member.pk, staff=False,
            frame=b"data: " + b"x" * 65_536 + b"\n\n",
        )  # fmt: skip

        def push(event: Event, times: int) -> None:
            for _ in range(times):
                opened.push(event)

        for _ in range(20):  # more than the socket's buffers and the transport's limit hold
            on_hub_loop(lambda: push(big, 10))
            if opened.closed:
                break
        assert opened.closed
        assert gone(member)
        del sock


def test_a_client_that_talks_after_the_hand_off_gets_its_stream_ended(
    portal_server: PortalServer, two_customers: dict[str, Any]
) -> None:
    member = two_customers["member"]
    with open_raw(portal_server, member) as sock:
        assert stream_of(member).wire is not None
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _, _, body = read_to_end(sock).partition(b"\r\n\r\n")
    assert dechunk(body)[1]
    assert gone(member)


class FakeTransport:
    def __init__(self) -> None:
        self.written = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def test_the_wire_skips_replayed_events_until_the_hub_is_past_them() -> None:
    hub = Hub(DatabaseBus())
    opened = hub.register(Viewer(user_id=1, is_staff=False))
    transport = FakeTransport()
    wire = Wire(hub, opened, transport, {5, 7}, lifetime=120)  # type: ignore[arg-type]
    opened.wire = wire

    def event(event_id: int) -> Event:
        return Event(event_id, "k", None, "", 1, False, f"id: {event_id}\n\n".encode())

    opened.push(event(7))  # replayed already: the hub had not dispatched it yet
    opened.push(event(8))
    assert transport.written == b"7\r\nid: 8\n\n\r\n"
    hub.cursor = 7
    wire.tend(time.monotonic(), heartbeat=60)
    assert wire.sent is None
    wire.tend(time.monotonic() + 61, heartbeat=60)  # quiet for a heartbeat's time
    assert transport.written.endswith(b"d\r\n: heartbeat\n\n\r\n")
    wire.tend(time.monotonic() + 121, heartbeat=60)  # past its lifetime
    assert transport.written.endswith(b"0\r\n\r\n") and transport.closing
    assert opened.closed
    wire.connection_lost(None)
    assert not hub.streams and opened.wire is None
