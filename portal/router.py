"""The ASGI application the server runs: a small router in front of Django.

Pages go to Django's WSGI application through a2wsgi's thread pool, which
serves them at WSGI speed (Django's own ASGI handler moves every synchronous
step to a fresh thread and was five to ten times slower here). Paths that need
a long-lived connection, such as the live event stream, are registered as
native ASGI handlers beside it, so one server process holds both behind one
address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

logger = logging.getLogger(__name__)


class Router:
    def __init__(self, pages: ASGIApp) -> None:
        self.pages = pages
        self.routes: list[tuple[str, ASGIApp]] = []
        self.startup_hooks: list[Hook] = []
        self.shutdown_hooks: list[Hook] = []

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Serve every path that starts with ``prefix`` with a native ASGI app."""
        self.routes.append((prefix, app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            # No websockets: the live stream is Server-Sent Events over HTTP.
            await send({"type": "websocket.close", "code": 1003})
            return
        path: str = scope["path"]
        for prefix, app in self.routes:
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        await self.pages(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.startup_hooks:
                        await hook()
                except Exception as exc:
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.shutdown_hooks:
                    try:
                        await hook()
                    except Exception:
                        logger.exception("shutdown hook failed")
                await send({"type": "lifespan.shutdown.complete"})
                return
