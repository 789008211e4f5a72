"""Throwaway PostgreSQL and Redis servers on free loopback ports, for tests that need them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.components import require
from tests.server import free_port


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PostgresServer:
    """A PostgreSQL cluster of its own on a free port, which a test may stop and start."""

    def __init__(self) -> None:
        require("postgresql")
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.data, self.port = self.root / "data", free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"
        subprocess.run(
            _as_postgres(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_postgres(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                 "-w", "-o", options, "start"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
            ),
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres(start: bool = True) -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        if start:
            server.start()
        yield server
    finally:
        server.remove()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster of its own; yields ``postgres://postgres@127.0.0.1:PORT``."""
    with postgres() as server:
        yield server.url


class RedisServer:
    """A Redis server of its own on a free port, in memory only, which a test may stop and
    start again on the same port (what it held is gone, as after a real restart)."""

    def __init__(self) -> None:
        require("redis")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextmanager
def redis(start: bool = True) -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        if start:
            server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server of its own, in memory only; yields ``redis://127.0.0.1:PORT/0``."""
    with redis() as server:
        yield server.url
