"""A WSGI application that the pages server's tests serve with the portal's uWSGI
options (``test_pages_server.py``), prepared as the portal's pages are."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable
from typing import Any

from portal.core.pages_server import LastResort, prepared

kept: list[list[int]] = []


def probe(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers without reading the request's body, as a view that refuses a request does;
    ``/read`` reads it first. ``/heap`` keeps an object for good, as Django keeps what it
    builds on a first page, and answers how many objects the collector leaves alone.
    ``/pid`` names the process, ``/slow?S[,FILE]`` sleeps S seconds (having made FILE), ``/raise``
    fails outside any error handling."""
    path = environ["PATH_INFO"]
    if path == "/heap":
        kept.append([len(kept)])  # a list, which the collector always tracks
        body = str(gc.get_freeze_count()).encode()
    elif path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/slow":
        seconds, _, mark = environ["QUERY_STRING"].partition(",")
        if mark:
            open(mark, "w").close()  # noqa: SIM115 - the test waits for this file
        time.sleep(float(seconds))
        body = b"slept"
    elif path == "/raise":
        raise RuntimeError("an error in the error page itself")
    else:
        if path == "/read":
            environ["wsgi.input"].read()
        body = b"answered " + path.encode() + b"\n" + b"x" * 20_000
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


application = prepared(LastResort(probe))
