"""The portal as `make run` serves it: uvicorn running the ASGI router."""

from __future__ import annotations

import asyncio
import re
import threading

import httpx
import pytest

from portal.router import Message, Router, Scope
from tests.server import PortalServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_probes_and_pages_through_the_real_server(portal_server: PortalServer) -> None:
    with httpx.Client(base_url=portal_server.url, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ok", "database": "ok"}
        home = http.get("/")
        assert home.status_code == 200
        assert "default-src 'self'" in home.headers["content-security-policy"]


def test_static_files_have_hashed_names_and_long_cache_lifetimes(
    portal_server: PortalServer,
) -> None:
    with httpx.Client(base_url=portal_server.url, timeout=10) as http:
        page = http.get("/").text
        match = re.search(r'href="(/static/portal/portal\.[0-9a-f]{12}\.css)"', page)
        assert match, "the stylesheet link should carry a content hash"
        css = http.get(match.group(1), headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "max-age=31536000" in css.headers["cache-control"]
        assert "immutable" in css.headers["cache-control"]
        assert css.headers.get("content-encoding") == "gzip"


def _call(router: Router, scope: Scope, incoming: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    # In a thread of its own: Playwright's sync API may hold this thread's event loop.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(router(scope, receive, send))
        except BaseException as exc:  # handed back to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    if errors:
        raise errors[0]
    return sent


def test_router_sends_mounted_paths_to_their_own_app_and_the_rest_to_pages() -> None:
    seen: list[str] = []

    def app(name: str):  # type: ignore[no-untyped-def]
        async def handler(scope: Scope, receive: object, send: object) -> None:
            seen.append(f"{name}:{scope['path']}")

        return handler

    router = Router(pages=app("pages"))
    router.mount("/live/", app("live"))
    _call(router, {"type": "http", "path": "/live/stream"}, [])
    _call(router, {"type": "http", "path": "/dashboard/"}, [])
    assert seen == ["live:/live/stream", "pages:/dashboard/"]


def test_router_runs_startup_and_shutdown_hooks() -> None:
    calls: list[str] = []

    async def noop(scope: Scope, receive: object, send: object) -> None:
        return None

    router = Router(pages=noop)

    async def started() -> None:
        calls.append("startup")

    async def stopped() -> None:
        calls.append("shutdown")

    router.startup_hooks.append(started)
    router.shutdown_hooks.append(stopped)
    sent = _call(
        router,
        {"type": "lifespan"},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert calls == ["startup", "shutdown"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_router_reports_a_failed_startup() -> None:
    async def noop(scope: Scope, receive: object, send: object) -> None:
        return None

    async def broken() -> None:
        raise RuntimeError("bus unreachable")

    router = Router(pages=noop)
    router.startup_hooks.append(broken)
    sent = _call(router, {"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert sent == [{"type": "lifespan.startup.failed", "message": "bus unreachable"}]
