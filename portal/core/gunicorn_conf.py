"""gunicorn's settings for the pages (``manage.py serve --only pages``).

Sync workers: each process runs one page view at a time, with the interpreter
to itself. Measured with 10,000 live streams open on a 2-core machine, pages
in their own processes completed 316 dashboards a second where uvicorn's
processes, which also held the streams, completed 256 (docs/benchmarks.md).
nginx in front buffers request bodies and slow clients' answers, so a slow
client holds no worker. A finished connection is closed at once rather than held
until nginx closes its side (``portal.core.gunicorn_worker``). ``serve`` gives the
address and the number of processes on the command line.
"""

from __future__ import annotations

import os
from typing import Any

wsgi_app = "portal.wsgi:pages_application"
worker_class = "portal.core.gunicorn_worker.PagesWorker"  # gunicorn's sync worker
# A burst of page views must not overflow the accept queue (capped by net.core.somaxconn).
backlog = int(os.environ.get("PORTAL_BACKLOG", "4096"))
# A view still running after this is stopped and its worker replaced; uploads arrive
# whole from nginx, so only a stuck view takes this long.
timeout = 60
graceful_timeout = 20  # as uvicorn's --timeout-graceful-shutdown in `serve`
accesslog = None  # the portal writes its own structured line per request
errorlog = "-"
loglevel = "warning"
proc_name = "portal-pages"


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its gauges no longer count in the node's metrics."""
    # The variable's name, not portal.core.metrics: the master process loads no Django.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, directory)  # type: ignore[no-untyped-call]
