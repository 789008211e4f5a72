"""uvicorn's HTTP protocol, plus a hand-off of open live streams to the hub.

Once a live stream has answered (authorised, headers, replay), all it ever does
is write what the hub gives it. Under uvicorn each open one would still hold a
protocol with its parser and flow control, a request cycle, a task with the
suspended coroutines of the ASGI app and a heartbeat timer: about 4 KB each,
10,000 of them per process. So :class:`LiveHttpProtocol` offers the app a
hand-off (``scope["extensions"][HANDOFF]``, on the live path only): the
connection leaves uvicorn as a websocket upgrade does (out of the server's
connections, the transport given a new protocol) and from then on the hub
writes to the transport through a :class:`Wire`, a few slots per stream, and
tends every stream's heartbeat and lifetime from one task (``Hub._tend``).

This module is imported by uvicorn before the application (``--http
portal.live.protocol:LiveHttpProtocol``, which ``portal.core.uvicorn_main``
adds), so it imports nothing of Django or the portal at module level.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from .hub import Event, Hub, Stream

__all__ = ["HANDOFF", "LIVE_PATH", "Handoff", "LiveHttpProtocol", "Wire"]

LIVE_PATH = "/live/events"
HANDOFF = "portal.live.handoff"
# (hub, stream, event ids already replayed, seconds the stream may live) -> handed off?
Handoff = Callable[["Hub", "Stream", "set[int] | None", float], bool]
HEARTBEAT = b": heartbeat\n\n"


class LiveHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a live stream's request may hand its connection off."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The request's task starts on the next turn of the loop: it sees this.
        scope = self.scope
        if scope.get("path") == LIVE_PATH and scope.get("method") == "GET":
            scope["extensions"] = {HANDOFF: self.hand_off}  # type: ignore[dict-item]

    def hand_off(self, hub: Hub, stream: Stream, sent: set[int] | None, lifetime: float) -> bool:
        """Give this connection to ``stream``; False (the app streams on in ASGI) when
        the connection is not in a state to: anything unusual keeps the ASGI path."""
        cycle, transport = self.cycle, self.transport
        if (
            self.pipeline  # another request waits behind the stream (self.cycle is not ours)
            or cycle is None
            or not cycle.response_started
            or cycle.response_complete
            or cycle.disconnected
            or not cycle.chunked_encoding  # the Wire writes chunks, as the cycle did
            or self.flow.write_paused  # a client that does not read: no pause_writing to come
            or transport.is_closing()
            or stream.closed
        ):
            return False
        # Complete as far as uvicorn is concerned: no "returned without completing
        # response" and no close when the app returns.
        cycle.response_complete = True
        self.connections.discard(self)  # as on a websocket upgrade: the hub ends it on shutdown
        self._unset_keepalive_if_required()
        self.flow.resume_reading()  # so that a client going away is seen at once
        wire = Wire(hub, stream, transport, sent, lifetime)
        transport.set_protocol(wire)
        self.on_response_complete()
        # Break the reference cycles through this protocol, so that it and its request
        # go as soon as the app returns rather than at the next full collection.
        self.parser = None  # type: ignore[assignment]
        extensions = self.scope.get("extensions")
        if extensions is not None:
            extensions.pop(HANDOFF, None)
        stream.wire = wire
        wire.send(stream.take())  # what arrived since the stream registered
        return True

    def on_response_complete(self) -> None:
        if self.transport.get_protocol() is self:
            super().on_response_complete()
        else:  # handed off: counted, and no keep-alive timer armed for a connection we gave away
            self.server_state.total_requests += 1


class Wire(asyncio.Protocol):
    """A handed-off live stream's connection: the hub writes events to it directly.

    The body goes on in chunked transfer encoding, as uvicorn's response cycle
    began it. Slots only: 10,000 of these per process.
    """

    __slots__ = ("hub", "stream", "transport", "sent", "deadline", "written_at")

    def __init__(
        self,
        hub: Hub,
        stream: Stream,
        transport: asyncio.Transport,
        sent: set[int] | None,
        lifetime: float,
    ) -> None:
        self.hub = hub
        self.stream = stream
        self.transport = transport
        # Replayed from the table: the hub may still deliver some of these; until its
        # cursor passes them (see tend) they are skipped.
        self.sent = sent
        now = time.monotonic()
        self.deadline = now + lifetime
        self.written_at = now

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.written_at = time.monotonic()

    def send(self, events: Iterable[Event]) -> None:
        sent = self.sent
        data = b"".join(event.frame for event in events if not sent or event.id not in sent)
        if data:
            self.write(data)

    def end(self) -> None:
        """End the body (the browser reconnects) and close once what is buffered is out."""
        if not self.transport.is_closing():
            self.transport.write(b"0\r\n\r\n")
            self.transport.close()

    def tend(self, now: float, heartbeat: float) -> None:
        """Called by the hub's one periodic task: lifetime, heartbeat, replayed ids."""
        if now >= self.deadline:
            self.stream.close()  # ends the body, see Stream.close
            return
        if now - self.written_at >= heartbeat:
            self.write(HEARTBEAT)
        if self.sent is not None and self.hub.cursor >= max(self.sent):
            self.sent = None  # the hub will never deliver these again

    # --- asyncio.Protocol ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        # An event stream's client has nothing more to say; one that talks on (another
        # request, a flood) is not a browser's EventSource: its stream ends.
        if data.strip():
            self.stream.close()

    def eof_received(self) -> bool:
        return False  # the client closed its side: the transport closes, see connection_lost

    def pause_writing(self) -> None:
        # The client does not read and the kernel's buffers are full: as a stream over
        # MAX_QUEUED events, it is dropped (it reconnects and replays what it missed).
        self.stream.closed = True
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.unregister(self.stream)
        self.stream.wire = None
