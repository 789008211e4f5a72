"""The pages' server in production: uWSGI's processes (``manage.py serve --only pages``).

Each process runs one page view at a time with the interpreter to itself, behind nginx,
which buffers request bodies and slow clients' answers, so a slow client holds no
process. uWSGI reads and writes HTTP in C: on a 2-core machine, a process answering
cached dashboards used about a quarter less CPU per page than gunicorn's sync worker,
which does that work in Python (1.6–1.7 ms against 2.1–2.4 ms; docs/benchmarks.md).

The processes also keep Python's cyclic garbage collector off the objects that live
as long as the process (Django, the portal's modules, the URL patterns, the compiled
templates): ``gc.freeze`` once the application is loaded, and again once a first run
of pages has built what Django builds lazily. Without it, a full collection walks about
135,000 objects, 50 to 90 ms in which the process answers nothing, and one runs each
time the objects kept have grown by a quarter (the caches of users and fragments
filling). Settled, a full collection walks only what was made since (``bench/heap.py``).
An object frozen here that later dies in a reference cycle is not reclaimed; what is
frozen is what was alive after the first pages, which lives on.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from portal.core.proxy import WSGIApp

App = TypeVar("App")
logger = logging.getLogger(__name__)

# Pages a process answers before what they built lazily is settled (a first page of
# each kind builds its URL patterns, templates and translations).
SETTLE_AFTER = 1_000
# A view still running after this many seconds is stopped and its process replaced
# (uWSGI's harakiri); uploads arrive whole from nginx, so only a stuck view takes this long.
REQUEST_TIMEOUT = 60
# On SIGTERM, running views get this long to finish before their processes are killed.
GRACEFUL_SECONDS = 20
# Room for a request's line and headers: a browser's cookies for the portal, the
# session's and the CSRF token's, fit many times over.
HEADER_BUFFER = 32_768
# Request bodies up to this size are read into memory, larger ones into a file.
POST_BUFFER = 65_536


def settle_heap() -> None:
    """Collect what is garbage now and keep every object left out of later collections:
    they live as long as the process. Objects made later are collected as ever."""
    gc.collect()
    gc.freeze()


class HeapSettler:
    """Called once after each answer has gone out: settles the heap after the first
    ``after`` answers, once, between two pages."""

    def __init__(self, after: int = SETTLE_AFTER) -> None:
        self.after = after
        self.answered = 0

    def __call__(self) -> None:
        self.answered += 1
        if self.answered == self.after:
            settle_heap()


class LastResort:
    """Answers a plain 500 when an error escapes ``app``: Django answers every error of a
    view itself, so this is an error in its own error page. uWSGI would close the
    connection without an answer."""

    BODY = b"Internal Server Error\n"

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except Exception:
            logger.exception("error outside Django's handling: %s", environ.get("PATH_INFO"))
            headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(self.BODY)))]
            # Without exc_info: uWSGI would take it as an error still to report and
            # send no body.
            start_response("500 Internal Server Error", headers)
            return [self.BODY]


def prepared(app: App) -> App:
    """``app`` as a page process serves it, called once the process has loaded it: the
    heap settled now and after the first pages; when the process ends, its live gauges
    stop counting in the node's metrics."""
    settle_heap()
    try:
        import uwsgi  # present only inside uWSGI's processes
    except ImportError:  # loaded outside uWSGI: a test, a check
        return app
    # uWSGI reads both once the module that defines the application has loaded.
    uwsgi.after_req_hook = HeapSettler()  # called once each answer has gone out
    from portal.core.metrics import process_stopping

    uwsgi.atexit = process_stopping
    return app


def uwsgi_argv(
    host: str,
    port: int,
    workers: int,
    *,
    module: str = "portal.core.uwsgi_app:application",
    backlog: int | None = None,
    request_timeout: int = REQUEST_TIMEOUT,
) -> list[str]:
    """The command line of uWSGI serving the pages of this environment on ``host:port``."""
    binary = shutil.which("uwsgi", path=os.path.dirname(sys.executable))
    if binary is None:
        raise FileNotFoundError("uwsgi is not installed in this environment")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if backlog is None:
        # A burst of page views must not overflow the accept queue (capped by
        # net.core.somaxconn).
        backlog = int(os.environ.get("PORTAL_BACKLOG", "4096"))
    return [
        binary,
        "--strict",  # an unknown option is an error, not a warning
        "--master",
        "--http-socket", address,
        "--processes", str(workers),
        "--module", module,
        "--home", sys.prefix,  # this environment's packages
        "--pythonpath", str(Path(__file__).resolve().parents[2]),
        "--need-app",  # a process whose application fails to load stops the server
        # Each process loads the application itself: no database connection or pool
        # thread is shared across a fork.
        "--lazy-apps",
        "--enable-threads",  # the database pool's threads
        "--single-interpreter",
        "--listen", str(backlog),
        "--buffer-size", str(HEADER_BUFFER),
        # The body is read whole before the view runs (past this size into a temporary
        # file): a view that answers without reading it, as one refusing a request
        # does, leaves no bytes in the socket whose close would reset the connection
        # and cut its answer short.
        "--post-buffering", str(POST_BUFFER),
        "--harakiri", str(request_timeout),
        # SIGTERM (systemd's stop) lets running views finish, then exits 0.
        "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
        "--worker-reload-mercy", str(GRACEFUL_SECONDS),
        # Each connection carries one request; an HTTP/1.1 client must be told, or it
        # sends its next request into a connection being closed.
        "--add-header", "Connection: close",
        "--disable-logging",  # the portal writes its own structured line per request
        # A client gone before its answer is sent is not an error worth a traceback.
        "--ignore-sigpipe",
        "--ignore-write-errors",
        "--disable-write-exception",
        "--auto-procname",
        "--procname-prefix-spaced", "portal-pages",
    ]  # fmt: skip
