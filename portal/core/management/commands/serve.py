import ipaddress
import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.core.demo import DEFAULT_DEMO_PASSWORD, DEMO_USERS, demo_password


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Command(BaseCommand):
    help = "Serve the portal with uvicorn: pages and the live stream behind one address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("PORTAL_WORKERS", "2"))
        )
        parser.add_argument("--no-banner", action="store_true", help="Do not print the sign-ins.")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            default=os.environ.get("PORTAL_RUN_WORKER", "1") == "0",
            help="Do not start a background task worker beside the server.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        uvicorn = shutil.which("uvicorn", path=os.path.dirname(sys.executable))
        if uvicorn is None:
            raise CommandError("uvicorn is not installed in this environment; run 'make run'.")
        host, port = options["host"], options["port"]
        if not options["no_banner"]:
            self._banner(host, port)
        argv = [
            uvicorn,
            "portal.asgi:application",
            "--host", host,
            "--port", str(port),
            "--workers", str(options["workers"]),
            "--lifespan", "on",
            "--no-access-log",  # the portal writes its own structured line per request
            "--timeout-graceful-shutdown", "20",
        ]  # fmt: skip
        sys.stdout.flush()
        if options["no_worker"]:
            os.execv(uvicorn, argv)  # noqa: S606 - replaces this process with the server
        # E-mail, scans and webhooks run as background tasks: one worker beside the server.
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--queue-name", "*"]
        )
        server = subprocess.Popen(argv)  # noqa: S603 - uvicorn from this environment
        # Ctrl+C reaches both through the terminal; a TERM to this process is passed on.
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = server.wait()
        finally:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        sys.exit(code)

    def _banner(self, host: str, port: int) -> None:
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
            if _is_ip_address(host):
                # WebAuthn refuses an IP address as the site's identity.
                lines += [f"  Passkeys need a host name: try them on http://localhost:{port}/"]
            lines += [""]
        lines += ["  Press Ctrl+C to stop.", ""]
        self.stdout.write("\n".join(lines))
