"""Playwright driving Debian's Chromium against the real portal server.

Every page a journey visits is checked with axe-core (vendored from npm); a
serious or critical violation fails the test. Content-Security-Policy
violations reported by the browser fail it too. Screenshots go to
var/screenshots/ for people to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.components import require
from tests.server import PortalServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require("chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django must still
    # let the test body use the ORM.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Visit:
    """A browser tab on the portal that audits every page it lands on."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.csp_violations: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"

    def audit(self, name: str) -> None:
        """axe-core on the current page, a screenshot, and no CSP violations so far."""
        self.page.wait_for_load_state("load")
        # Evaluated through the DevTools protocol, so the page's CSP (rightly
        # strict about inline scripts) does not block the audit itself.
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE_JS.read_text())
        result = self.page.evaluate(
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
        )
        blocking = [v for v in result if v["impact"] in {"serious", "critical"}]
        self.screenshot(name)
        assert not blocking, f"accessibility violations on {self.page.url}: {blocking}"
        assert not self.csp_violations, f"CSP violations: {self.csp_violations}"

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_fits_viewport(self) -> None:
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{self.page.url} scrolls sideways by {overflow}px"


@pytest.fixture
def visit_factory(
    browser: Browser, portal_server: PortalServer, transactional_db: None
) -> Iterator[Any]:
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP, *, host: str = "127.0.0.1") -> Visit:
        """A fresh browser context. ``host="localhost"`` reaches the same server under a
        name that WebAuthn accepts as a relying party id (an IP address is not one)."""
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        return Visit(context.new_page(), portal_server.url.replace("127.0.0.1", host, 1))

    yield make
    for context in contexts:
        context.close()
