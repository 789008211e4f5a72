"""How long the garbage collector holds a pages process, before and after the pages'
processes settle their heap (``portal.core.pages_server.settle_heap``).

    .venv/bin/python bench/heap.py [--pages N]

A process of its own, the way a pages process runs the portal: the WSGI application
loaded, demo data on SQLite in a throwaway folder, the demo admin's signed-in pages
(dashboard, requests, invoices, documents, a help page) answered in turn. It reports the
objects a full collection walks and how long one takes, and the collections the
interpreter ran by itself while the pages were answered: first as Python leaves a
process, then after ``settle_heap``, as a pages process does once it has loaded the
application and answered its first pages. Figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["/dashboard/", "/requests/", "/billing/invoices/", "/documents/", "/pages/"]


class Pauses:
    """The collections the interpreter runs, by generation, with their durations."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seen: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self.callback)

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.seen[info["generation"]].append(1000 * (time.perf_counter() - self.started))

    def clear(self) -> None:
        for durations in self.seen.values():
            durations.clear()

    def line(self, generation: int) -> str:
        durations = self.seen[generation]
        if not durations:
            return f"generation {generation}: none"
        return (
            f"generation {generation}: {len(durations)}, longest {max(durations):.1f} ms, "
            f"together {sum(durations):.0f} ms"
        )


def full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000, help="pages in each phase")
    pages = parser.parse_args().pages

    data = tempfile.mkdtemp(prefix="portal-heap-")
    os.environ.update(
        {"PORTAL_ENV": "development", "PORTAL_DATA_DIR": data, "PORTAL_TASKS_IMMEDIATE": "1"}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, cwd=ROOT)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], check=True, cwd=ROOT)
    subprocess.run([*manage, "load_demo"], check=True, cwd=ROOT, capture_output=True)

    sys.path.insert(0, str(ROOT))
    import logging

    from portal.wsgi import pages_application

    logging.disable(logging.INFO)  # the request log's lines are not what is measured
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from portal.core.pages_server import settle_heap

    # Django's test client only signs in (it keeps an object per request it made): the
    # pages are asked of the application as the server asks, with the session's cookie.
    signed_in = Client()
    signed_in.force_login(get_user_model().objects.get(email="admin@acme.example"))
    session = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"

    def answer(path: str) -> str:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_COOKIE": cookie,
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip
        status: list[str] = []
        body = pages_application(environ, lambda line, headers, exc_info=None: status.append(line))
        for _ in body:
            pass
        body.close()  # type: ignore[attr-defined]
        return status[0]

    for path in PAGES:
        if not (status := answer(path)).startswith("200"):
            raise SystemExit(f"{path} answered {status}")

    pauses = Pauses()
    for phase in ("as Python leaves it", "settled"):
        if phase == "settled":
            settle_heap()
        walked = len(gc.get_objects())
        print(f"{phase}: a full collection walks {walked:,} objects, {full_collection_ms():.1f} ms")
        pauses.clear()
        for number in range(pages):
            answer(PAGES[number % len(PAGES)])
        print(f"  while answering {pages:,} pages: " + "; ".join(pauses.line(g) for g in (0, 1, 2)))
        walked, took = len(gc.get_objects()), full_collection_ms()
        print(f"  after them, a full collection walks {walked:,} objects, {took:.1f} ms")


if __name__ == "__main__":
    main()
