"""The browser budget: bytes transferred and load time of each main page in Chromium.

Debian's Chromium (/usr/bin/chromium) driven by Playwright; never
``playwright install``. Each page is loaded signed in twice: a first visit with
an empty cache, then a repeat visit in the same browser (static files come
from the cache: they are served with hashed names and an immutable lifetime).
Bytes are the Resource Timing ``transferSize`` of the document and every
resource (headers included, 0 for a cache hit).
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  return {
    transferred: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
    document: nav.transferSize,
    resources: resources.length,
    load_ms: nav.loadEventEnd - nav.startTime,
  };
}"""


def measure(base: str, cookie: str, paths: dict[str, str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for label, path in paths.items():
                # A fresh context per page: an empty cache for the first visit.
                context = browser.new_context(extra_http_headers={"Cookie": cookie})
                page = context.new_page()
                row: dict[str, Any] = {"path": path}
                for visit in ("first", "repeat"):
                    response = page.goto(base + path, wait_until="load")
                    row["status"] = response.status if response else 0
                    row[visit] = page.evaluate(MEASURE)
                results[label] = row
                context.close()
        finally:
            browser.close()
    return results
