"""Several portal server processes sharing one database, as nodes behind a load balancer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.server import free_port

ROOT = Path(__file__).resolve().parents[1]


class Cluster:
    def __init__(
        self,
        *,
        data_dir: Path,
        nodes: int = 2,
        graceful_shutdown: int = 2,
        migrate: bool = True,
        server_args: tuple[str, ...] = (),
        split: bool = False,
        **env: str,
    ) -> None:
        self.migrate = migrate  # False for a database made from a migrated template
        # The production topology: each node's pages in uWSGI (`serve --only pages`)
        # at ``urls``, its live stream in uvicorn at ``live_urls``.
        self.split = split
        self.server_args = server_args  # more of uvicorn's options, such as --http h11
        # Seconds a stopping node lets requests in progress finish (`serve` gives 20).
        self.graceful_shutdown = graceful_shutdown
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PORTAL_", "DATABASE_", "REDIS_", "DJANGO_"))
        }
        self.env.update(
            PORTAL_DATA_DIR=str(data_dir),
            PORTAL_TASKS_IMMEDIATE="1",
            PORTAL_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
            **env,
        )
        self.ports = [free_port() for _ in range(nodes)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.live_ports = [free_port() for _ in range(nodes)] if split else []
        self.live_urls = [f"http://127.0.0.1:{port}" for port in self.live_ports]

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def python(self, code: str) -> object:
        """Run ``code`` in a fresh Django process of this cluster; it prints JSON."""
        return json.loads(self.manage("shell", "--no-imports", "-c", code))

    def __enter__(self) -> Cluster:
        if self.migrate:
            self.manage("migrate", "--noinput", "-v", "0")
        if self.split:
            for port in self.ports:
                self.processes.append(self._spawn_pages(port))
            for port in self.live_ports:
                self.processes.append(self._spawn(port))
        else:
            for port in self.ports:
                self.processes.append(self._spawn(port))
        for url in self.urls + self.live_urls:
            self._wait_until_ready(url)
        return self

    def _spawn_pages(self, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--only", "pages", "--workers", "1",
             "--host", "127.0.0.1", "--port", str(port), "--no-banner", "--no-worker"],
            cwd=ROOT, env=self.env,
        )  # fmt: skip

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portal.core.uvicorn_main",  # uvicorn, exiting 0 after a SIGTERM
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "on",
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                str(self.graceful_shutdown),
                *self.server_args,
            ],
            cwd=ROOT,
            env=self.env,
        )  # fmt: skip

    def restart(self, node: int) -> None:
        """Start node ``node`` again on its port, after it stopped or was killed."""
        assert not self.split, "restart() starts a node's single uvicorn server"
        self.processes[node].wait(15)
        self.processes[node] = self._spawn(self.ports[node])
        self._wait_until_ready(self.urls[node])

    def _wait_until_ready(self, url: str) -> None:
        # Generous: on a loaded CI machine a node's start can take a while.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not become ready")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
