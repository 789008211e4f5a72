import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.billing.emulator import LocalStripe
from portal.core.demo import DEFAULT_DEMO_PASSWORD, DEMO_USERS, demo_password
from portal.core.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from portal.core.pages_server import uwsgi_argv
from portal.core.proxy import is_ip_address

LOCALSTRIPE_PORT = 8420
PAGES, LIVE = "pages", "live"


class Command(BaseCommand):
    help = (
        "Serve the portal: pages and the live stream behind one address (uvicorn), or, with "
        "--only, one of the two servers a production node runs behind nginx."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--only",
            choices=[PAGES, LIVE],
            help=(
                "pages: Django's pages in uWSGI's processes; live: the live stream "
                "in uvicorn (docs/architecture.md, 'Serving topology'). nginx routes "
                "/live/events to the second."
            ),
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="Server processes (PORTAL_WORKERS, 2; with --only live PORTAL_LIVE_WORKERS, 2).",
        )
        parser.add_argument("--no-banner", action="store_true", help="Do not print the sign-ins.")
        parser.add_argument(
            "--no-localstripe",
            action="store_true",
            default=os.environ.get("PORTAL_LOCALSTRIPE", "1") == "0",
            help="Do not start the local Stripe emulator (development only) for card payments.",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            default=os.environ.get("PORTAL_RUN_WORKER", "1") == "0",
            help="Do not start a background task worker beside the server.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = "uwsgi" if options["only"] == PAGES else "uvicorn"
        if shutil.which(server, path=os.path.dirname(sys.executable)) is None:
            hint = "pip install '.[production]'" if server == "uwsgi" else "run 'make run'"
            raise CommandError(f"{server} is not installed in this environment; {hint}.")
        if options["workers"] is None:
            variable, default = (
                ("PORTAL_LIVE_WORKERS", "2") if options["only"] == LIVE else ("PORTAL_WORKERS", "2")
            )
            options["workers"] = int(os.environ.get(variable, default))
        host, port = options["host"], options["port"]
        # The server's worker processes and the task worker count into files that
        # a scrape of /metrics adds up (prometheus-client's multiprocess mode).
        metrics_dir = os.environ.setdefault(MULTIPROC_ENV, str(settings.DATA_DIR / "metrics"))
        prepare_multiprocess_dir(Path(metrics_dir))
        # The demo's emulator goes with the whole portal on one address, not with one half.
        localstripe = (
            None
            if options["no_localstripe"] or options["only"]
            else self._start_localstripe(host, port)
        )
        try:
            self._serve(host, port, options, localstripe)
        finally:
            if localstripe is not None:
                localstripe.stop()

    def _start_localstripe(self, host: str, port: int) -> LocalStripe | None:
        """In development without Stripe keys: localstripe on a loopback port, for the demo.

        The server and the worker are started with the environment that points the
        portal at it (they read their settings afresh).
        """
        if settings.PRODUCTION or settings.STRIPE_SECRET_KEY or settings.PORTAL_STRIPE_API_BASE:
            return None
        if not LocalStripe.available():
            self.stderr.write("localstripe is not installed: card payment is switched off.")
            return None
        wanted = int(os.environ.get("PORTAL_LOCALSTRIPE_PORT", LOCALSTRIPE_PORT))
        localstripe = LocalStripe(wanted if wanted and _port_free(wanted) else _free_port()).start()
        secret = f"whsec_{secrets.token_urlsafe(24)}"
        portal_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 # nosec B104 - a comparison
        shown = f"[{portal_host}]" if ":" in portal_host else portal_host
        localstripe.register_webhook(
            url=f"http://{shown}:{port}/billing/webhooks/stripe/", secret=secret
        )
        os.environ.update(
            PORTAL_STRIPE_API_BASE=localstripe.url,
            STRIPE_SECRET_KEY="sk_test_localstripe",  # noqa: S106 - the emulator's, not a secret
            STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
            STRIPE_WEBHOOK_SECRET=secret,
        )
        return localstripe

    def _serve(
        self,
        host: str,
        port: int,
        options: dict[str, Any],
        localstripe: LocalStripe | None,
    ) -> None:
        if not options["no_banner"]:
            self._banner(host, port, localstripe)
        argv = (
            uwsgi_argv(host, port, options["workers"])
            if options["only"] == PAGES
            else _uvicorn_argv(host, port, options["workers"])
        )
        sys.stdout.flush()
        if options["no_worker"] and localstripe is None:
            os.execv(argv[0], argv)  # noqa: S606 - replaces this process with the server
        # E-mail, scans and webhooks run as background tasks: one worker beside the server.
        worker = (
            None
            if options["no_worker"]
            else subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--queue-name", "*"]
            )
        )
        server = subprocess.Popen(argv)  # noqa: S603 - the server from this environment
        # Ctrl+C reaches both through the terminal; a TERM to this process is passed on.
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = server.wait()
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        sys.exit(code)

    def _banner(self, host: str, port: int, localstripe: LocalStripe | None = None) -> None:
        shown_host = f"[{host}]" if ":" in host else host
        password = demo_password()
        source = (
            "default; set PORTAL_DEMO_PASSWORD to change it"
            if password == DEFAULT_DEMO_PASSWORD
            else "from PORTAL_DEMO_PASSWORD"
        )
        lines = [
            "",
            f"  {settings.PORTAL_NAME} is starting on http://{shown_host}:{port}/",
            "",
        ]
        if not settings.PRODUCTION:
            lines += [f"  Demo sign-ins (password: {password} — {source}):"]
            lines += [f"    {user.email:<24} {user.description}" for user in DEMO_USERS]
            lines += [f"  E-mails are written to {settings.EMAIL_FILE_PATH}"]
            if is_ip_address(host):
                # WebAuthn refuses an IP address as the site's identity.
                lines += [f"  Passkeys need a host name: try them on http://localhost:{port}/"]
            if localstripe is not None:
                lines += [
                    f"  Card payments go to localstripe (a Stripe emulator) on {localstripe.url};",
                    "    pay a demo invoice with 4242 4242 4242 4242, any future date, any CVC.",
                ]
            elif not settings.STRIPE_SECRET_KEY and not os.environ.get("STRIPE_SECRET_KEY"):
                lines += ["  Card payment is switched off (no STRIPE_SECRET_KEY)."]
            lines += [""]
        lines += ["  Press Ctrl+C to stop.", ""]
        self.stdout.write("\n".join(lines))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _uvicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "portal.core.uvicorn_main",  # uvicorn, exiting 0 after a stop that was asked for
        "portal.asgi:application",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--lifespan", "on",
        "--no-access-log",  # the portal writes its own structured line per request
        "--timeout-graceful-shutdown", "20",
        # A burst of reconnecting live streams must not overflow the accept queue
        # (the kernel caps it at net.core.somaxconn).
        "--backlog", os.environ.get("PORTAL_BACKLOG", "4096"),
    ]  # fmt: skip
