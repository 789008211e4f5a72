"""The pages' server (portal/core/pages_server.py): uWSGI with the portal's options,
serving a probe application prepared as the portal's pages are. Every answer arrives
whole, a body left unread included; a stuck view is stopped; SIGTERM lets running
views finish; the objects that live as long as the process are kept out of the garbage
collector's walks."""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portal.core.pages_server import SETTLE_AFTER, HeapSettler, uwsgi_argv
from tests.server import free_port

ROOT = Path(__file__).resolve().parents[3]
PROBE = "portal.core.tests.uwsgi_probe:application"
REQUEST_TIMEOUT = 2


def start_server(workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = uwsgi_argv("127.0.0.1", port, workers, module=PROBE, request_timeout=REQUEST_TIMEOUT)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            # Every process has loaded the application (each loads its own, and one that
            # is still loading would hold up a graceful stop).
            log.seek(0)
            if log.read().count(b"WSGI app 0 (mountpoint='') ready") >= workers:
                try:
                    if get(port, "/pid").startswith(b"HTTP/1.1 200"):
                        return process, port
                except OSError:
                    pass
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                log.seek(0)
                raise RuntimeError(f"uWSGI did not start: {log.read().decode()[-3000:]}")
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def pages_server() -> Iterator[int]:
    process, port = start_server()
    yield port
    stop(process)


def exchange(port: int, raw: bytes) -> bytes:
    """Sends ``raw``; returns everything the server sent until it closed its side."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def get(port: int, path: str, headers: str = "") -> bytes:
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: portal\r\n{headers}\r\n".encode())


def body_of(received: bytes) -> bytes:
    return received.partition(b"\r\n\r\n")[2]


def answered_whole(received: bytes, path: str) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    return (
        head.startswith(b"HTTP/1.1 200 OK")
        and body.startswith(f"answered {path}\n".encode())
        and len(body) == len(f"answered {path}\n") + 20_000
    )


def test_the_heap_is_settled_once_after_the_first_pages() -> None:
    settler = HeapSettler(after=3)
    try:
        gc.unfreeze()
        settler()
        settler()
        assert gc.get_freeze_count() == 0
        settler()
        assert gc.get_freeze_count() > 1_000  # this test process's modules, at the least
        gc.unfreeze()
        settler()  # the fourth answer and later leave the heap alone
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_an_answer_arrives_whole_and_the_connection_is_closed(pages_server: int) -> None:
    # exchange() returns only once the server has closed its side, which it announced.
    received = get(pages_server, "/page")
    assert answered_whole(received, "/page")
    assert b"\r\nConnection: close\r\n" in received.partition(b"\r\n\r\n")[0] + b"\r\n"


def test_a_client_keeping_its_connection_sends_every_request_on_a_new_one(
    pages_server: int,
) -> None:
    # httpx, like a browser, would reuse a connection the server did not say it closes.
    with httpx.Client(base_url=f"http://127.0.0.1:{pages_server}", timeout=10) as client:
        for _ in range(50):
            response = client.get("/page")
            assert response.status_code == 200
            assert response.headers["Connection"] == "close"


def test_an_answer_to_a_request_whose_body_was_left_unread_arrives_whole(
    pages_server: int,
) -> None:
    # Past the memory buffer too: the body is read into a file before the view runs.
    for size in (5, 200_000, 3_000_000):
        for path in ("/refused", "/read"):
            received = exchange(
                pages_server,
                f"POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Length: {size}\r\n\r\n".encode()
                + b"b" * size,
            )
            assert answered_whole(received, path), (size, path, received[:200])


def test_a_browser_with_many_cookies_is_answered(pages_server: int) -> None:
    cookies = "; ".join(f"cookie{i}={'c' * 100}" for i in range(150))  # about 16 KB
    assert answered_whole(get(pages_server, "/page", f"Cookie: {cookies}\r\n"), "/page")


def test_an_error_outside_djangos_handling_is_answered_500(pages_server: int) -> None:
    received = get(pages_server, "/raise")
    assert received.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert body_of(received) == b"Internal Server Error\n"
    assert answered_whole(get(pages_server, "/page"), "/page")  # the process serves on


def test_a_view_stuck_past_the_timeout_is_stopped_and_its_process_replaced(
    pages_server: int,
) -> None:
    before = body_of(get(pages_server, "/pid"))
    started = time.monotonic()
    received = get(pages_server, f"/slow?{REQUEST_TIMEOUT * 10}")
    assert received == b""  # the connection closed without an answer (nginx: 502)
    assert time.monotonic() - started < REQUEST_TIMEOUT * 5
    after = body_of(get(pages_server, "/pid"))
    assert after.isdigit() and after != before


def frozen_objects(port: int) -> int:
    return int(body_of(get(port, "/heap")))


def test_objects_that_live_as_long_as_the_process_are_left_out_of_collections() -> None:
    # A process of its own: the counts start with its first page.
    process, port = start_server()
    try:
        # Frozen once the application was loaded: uWSGI's and the application's modules.
        at_start = frozen_objects(port)
        assert at_start > 1_000
        # Once the process has answered its first pages, what they built and kept is
        # frozen too: here nearly one kept object per page.
        for _ in range(SETTLE_AFTER):
            settled = frozen_objects(port)
        assert settled - at_start >= SETTLE_AFTER // 2
    finally:
        stop(process)


def test_sigterm_lets_running_views_finish_then_exits_0(tmp_path: Path) -> None:
    process, port = start_server(workers=2)
    answers: list[bytes] = []
    mark = tmp_path / "running"
    running = threading.Thread(target=lambda: answers.append(get(port, f"/slow?1.5,{mark}")))
    running.start()
    deadline = time.monotonic() + 10
    while not mark.exists():  # the view is running
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    running.join(20)
    try:
        assert answers and body_of(answers[0]) == b"slept"
        assert process.wait(30) == 0
    finally:
        stop(process)
    with pytest.raises(OSError):  # nothing listens any more
        get(port, "/pid")
