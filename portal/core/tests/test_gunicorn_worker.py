"""The pages' gunicorn worker (portal/core/gunicorn_worker.py): a connection whose
request was read whole is closed at once; one with request bytes left unread gets
gunicorn's graceful close, so its answer is never cut short by a reset. The objects that
live as long as the process are kept out of the garbage collector's walks."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http import get_parser

from portal.core.gunicorn_worker import SETTLE_AFTER, closes_at_once
from tests.server import free_port

ROOT = Path(__file__).resolve().parents[3]


kept: list[list[int]] = []


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers without reading the request's body, as a view that refuses a request does;
    ``/read`` reads it first. ``/heap`` keeps an object for good, as Django keeps what it
    builds on a first page, and answers how many objects the collector leaves alone."""
    if environ["PATH_INFO"] == "/heap":
        kept.append([len(kept)])  # a list, which the collector always tracks
        frozen = str(gc.get_freeze_count()).encode()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(frozen)))]
        )
        return [frozen]
    if environ["PATH_INFO"] == "/read":
        environ["wsgi.input"].read()
    body = b"answered " + environ["PATH_INFO"].encode() + b"\n" + b"x" * 20_000
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def closes_after(raw: bytes, read_body: bool = False, then: bytes = b"") -> bool:
    """Whether the worker would close at once after a view of the request ``raw``, the
    view having read its body or not, and the client having sent ``then`` meanwhile."""
    server, client = socket.socketpair()
    with server, client:
        client.sendall(raw)
        request = next(get_parser(Config(), server, ("127.0.0.1", 1)))
        if read_body:
            request.body.read()
        client.sendall(then)
        return closes_at_once(request, server)


def test_a_request_read_whole_with_nothing_after_it_is_closed_at_once() -> None:
    assert closes_after(b"GET /dashboard/ HTTP/1.1\r\nHost: portal\r\n\r\n")
    assert closes_after(
        b"POST /form HTTP/1.1\r\nHost: portal\r\nContent-Length: 5\r\n\r\nhello", read_body=True
    )


def test_a_body_left_unread_gets_the_graceful_close() -> None:
    assert not closes_after(
        b"POST /form HTTP/1.1\r\nHost: portal\r\nContent-Length: 5\r\n\r\nhello"
    )


def test_bytes_that_arrived_after_the_request_get_the_graceful_close() -> None:
    assert not closes_after(
        b"GET /a HTTP/1.1\r\nHost: portal\r\n\r\n", then=b"GET /b HTTP/1.1\r\nHost: portal\r\n\r\n"
    )
    # What gunicorn read along with the request is out of the socket: closing loses it as
    # gunicorn would (its answer said "Connection: close"), and causes no reset.
    assert closes_after(
        b"GET /a HTTP/1.1\r\nHost: portal\r\n\r\nGET /b HTTP/1.1\r\nHost: portal\r\n\r\n"
    )


def test_a_chunked_body_gets_the_graceful_close() -> None:
    assert not closes_after(
        b"POST /form HTTP/1.1\r\nHost: portal\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        read_body=True,
    )


@pytest.fixture(scope="module")
def pages_server() -> Iterator[int]:
    """gunicorn with the portal's settings (its worker class) and one process, serving
    ``app`` above."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:portal.core.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "portal.core.tests.test_gunicorn_worker:app"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                _, stderr = process.communicate()
                raise RuntimeError(f"gunicorn did not start: {stderr.decode()[-2000:]}") from None
            time.sleep(0.1)
    yield port
    process.terminate()
    process.communicate(timeout=20)


def exchange(port: int, raw: bytes) -> tuple[bytes, socket.socket]:
    """Sends ``raw``; returns everything the server sent until it closed its side."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(raw)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, sock


def answered_whole(received: bytes, path: str) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    return (
        head.startswith(b"HTTP/1.1 200 OK")
        and body.startswith(f"answered {path}\n".encode())
        and len(body) == len(f"answered {path}\n") + 20_000
    )


def test_the_server_closes_a_finished_connection_without_waiting_for_the_client(
    pages_server: int,
) -> None:
    received, sock = exchange(pages_server, b"GET /page HTTP/1.1\r\nHost: portal\r\n\r\n")
    assert answered_whole(received, "/page")
    # The worker has closed its socket entirely, not just its sending side: the kernel
    # answers bytes sent to it with a reset. gunicorn's graceful close would still be
    # reading them for up to 2 s, waiting for this client's close before it takes the
    # next request.
    with sock, pytest.raises(ConnectionError):
        for _ in range(20):
            sock.sendall(b"anything")
            time.sleep(0.05)


def test_an_answer_to_a_request_whose_body_was_left_unread_arrives_whole(
    pages_server: int,
) -> None:
    body = b"b" * 200_000
    for path in ("/refused", "/read"):
        received, sock = exchange(
            pages_server,
            f"POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body,
        )
        sock.close()
        assert answered_whole(received, path)


def frozen_objects(port: int) -> int:
    received, sock = exchange(port, b"GET /heap HTTP/1.1\r\nHost: portal\r\n\r\n")
    sock.close()
    return int(received.partition(b"\r\n\r\n")[2])


def test_objects_that_live_as_long_as_the_process_are_left_out_of_collections(
    pages_server: int,
) -> None:
    # Frozen once the application was loaded: gunicorn's and the application's modules.
    at_start = frozen_objects(pages_server)
    assert at_start > 1_000
    # Once the process has answered its first pages, what they built and kept is frozen
    # too: here nearly one kept object per page.
    for _ in range(SETTLE_AFTER):
        settled = frozen_objects(pages_server)
    assert settled - at_start >= SETTLE_AFTER // 2
