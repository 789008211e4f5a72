"""localstripe, a local Stripe emulator, for development, the demo and tests.

``python -m portal.billing.emulator --port PORT`` runs it like ``localstripe
--port PORT --from-scratch`` with two differences: it listens on 127.0.0.1
only (localstripe's own command listens on every interface), and it keeps its
state in memory (localstripe's own writes it to /tmp/localstripe.pickle on
every request, which parallel instances would share).

:class:`LocalStripe` starts one as a subprocess, waits for it, registers the
portal's webhook with it, clears its data and stops it; ``manage.py serve``
and the tests use it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType

WEBHOOK_ID = "portal"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import server
    from localstripe.resources import store

    # In memory only: no pickle in /tmp shared with other instances.
    store.dump_to_disk = lambda: None
    web.run_app(server.app, host=args.host, port=args.port, print=None, access_log=None)


class LocalStripe:
    """A localstripe subprocess on a loopback port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        try:
            import localstripe  # noqa: F401
        except ImportError:
            return False
        return True

    def start(self, timeout: float = 15) -> LocalStripe:
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [sys.executable, "-m", "portal.billing.emulator", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._request("GET", "/js.stripe.com/v3/", timeout=1)
                return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"localstripe did not start on port {self.port}")
            time.sleep(0.05)

    def register_webhook(self, *, url: str, secret: str) -> None:
        """Send every event, signed with ``secret``, to ``url`` (replaces the earlier one)."""
        self._request("POST", f"/_config/webhooks/{WEBHOOK_ID}", {"url": url, "secret": secret})

    def clear(self) -> None:
        """Forget every customer, payment and refund (registered webhooks stay)."""
        self._request("DELETE", "/_config/data")

    def _request(
        self, method: str, path: str, form: dict[str, str] | None = None, timeout: float = 5
    ) -> bytes:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 # nosec B310 - http://127.0.0.1 only
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 # nosec B310
            body: bytes = response.read()
            return body

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    main()
