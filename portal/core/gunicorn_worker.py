"""gunicorn's sync worker for the pages, closing a finished connection at once.

Since version 24, gunicorn's sync worker ends every connection with a graceful close
(RFC 9112, 9.6): it sends its FIN, then waits for the peer's before it takes the next
request, so that request bytes the view never read cannot turn the close into a reset
that truncates the answer. Behind nginx, which closes its side only when it is next
scheduled, that wait held each page process idle for about an eighth of its time under
load (py-spy, docs/benchmarks.md), time no other page could use.

The wait protects only against unread bytes. When the request's body was read to its
end and nothing more waits in the socket, no reset can happen, and the connection is
closed at once, as gunicorn did before version 24. Otherwise gunicorn's graceful close
runs as before.

The worker also keeps Python's cyclic garbage collector off the objects that live as
long as the process (Django, the portal's modules, the URL patterns, the compiled
templates): ``gc.freeze`` once the application is loaded, and again once a first run of
pages has built what Django builds lazily. Without it, a full collection walks about
135,000 objects, 50 to 90 ms in which the process answers nothing, and one runs each time
the objects kept have grown by a quarter (the caches of users and fragments filling).
Settled, a full collection walks only what was made since (``bench/heap.py``).

An object frozen here that later dies in a reference cycle is not reclaimed; what is
frozen is what was alive after the first pages, which lives on.
"""

from __future__ import annotations

import fcntl
import gc
import socket
import ssl
import struct
import termios
from typing import Any

from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import SyncWorker


def request_read_whole(request: Any) -> bool:
    """Whether every byte of the request's body has been taken from the socket (a body
    without a length, chunked, is not counted as read)."""
    reader = getattr(getattr(request, "body", None), "reader", None)
    return isinstance(reader, LengthReader) and reader.length == 0


def bytes_waiting(sock: socket.socket) -> int:
    """Bytes received and not yet read, without reading or waiting for any."""
    answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", answer)[0])


def closes_at_once(request: Any, sock: socket.socket) -> bool:
    if isinstance(sock, ssl.SSLSocket) or not request_read_whole(request):
        return False
    try:
        return bytes_waiting(sock) == 0
    except OSError:
        return False


# Pages a process answers before what they built lazily is settled (a first page of
# each kind builds its URL patterns, templates and translations).
SETTLE_AFTER = 1_000


def settle_heap() -> None:
    """Collect what is garbage now and keep every object left out of later collections:
    they live as long as the process. Objects made later are collected as ever."""
    gc.collect()
    gc.freeze()


class PagesWorker(SyncWorker):  # type: ignore[misc]
    answered = 0

    def load_wsgi(self) -> None:
        super().load_wsgi()
        settle_heap()

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        # Only after an answer that went out whole: on an error, gunicorn may still
        # write to the socket. Its graceful close then finds the socket closed and stops.
        if closes_at_once(req, client):
            client.close()
        self.answered += 1
        if self.answered == SETTLE_AFTER:
            settle_heap()  # between two pages, once, after this page's answer has gone
