"""ASGI entry point served by uvicorn (``manage.py serve``, ``make run``)."""

import os

from a2wsgi import WSGIMiddleware

from portal.router import Router

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from portal.core.metrics import metrics_app, process_stopping  # noqa: E402
from portal.live.hub import stop_hub  # noqa: E402
from portal.live.stream import live_app  # noqa: E402
from portal.wsgi import application as wsgi_application  # noqa: E402

# Threads that run Django's page views in each server process. Few: they share one
# interpreter lock, and under load more threads wait on it in turn rather than work
# (bench, 10,000 streams open: at 200 dashboards a second 4 threads answered with
# p95 64-346 ms where 16 fell seconds behind; at 333 asked, 2 or 4 completed about
# 300, 8 completed 240). Uploads reach them whole from nginx, which buffers request
# bodies, so a slow client holds no thread.
PAGE_THREADS = int(os.environ.get("PORTAL_PAGE_THREADS", "4"))

application = Router(pages=WSGIMiddleware(wsgi_application, workers=PAGE_THREADS))  # type: ignore[arg-type]
# The live stream is a native ASGI handler: no thread per open connection.
application.mount("/live/", live_app)  # counts its own requests (portal/live/stream.py)
# Prometheus' scrape, outside Django: by address, for allowed networks only.
application.mount("/metrics", metrics_app)
application.shutdown_hooks.append(stop_hub)


async def _metrics_stop() -> None:
    process_stopping()


application.shutdown_hooks.append(_metrics_stop)
