"""A real clamd of its own for tests, with a tiny signature database written at start.

The machines have no internet for the official signatures, so the database
holds two signatures of the EICAR test file: a hash of the whole file (.hdb)
and its bytes as a pattern at any offset (.ndb, which also finds it inside
other data and, unpacked by clamd, inside archives). The EICAR string is built
here at run time: a committed copy would be quarantined by scanners elsewhere.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.components import require

# Small enough that a test can exceed it cheaply.
STREAM_MAX_BYTES = 2 * 1024 * 1024


def eicar() -> bytes:
    """The EICAR anti-virus test file (68 bytes), assembled from pieces."""
    pieces = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR", "-STANDARD-ANTIVIRUS-", "TEST-FILE!$H+H*"]
    return "".join(pieces).encode("ascii")


def _clamd_binary() -> str:
    return shutil.which("clamd") or "/usr/sbin/clamd"


class ClamdServer:
    """clamd with its own socket and signature database, which a test may stop and start
    again on the same socket, or freeze (SIGSTOP) so that it accepts and never answers."""

    def __init__(self) -> None:
        require("clamd")
        self.root = Path(tempfile.mkdtemp(prefix="portal-clamd-"))
        database = self.root / "db"
        database.mkdir()
        sample = eicar()
        md5 = hashlib.md5(sample, usedforsecurity=False).hexdigest()
        (database / "portal-test.hdb").write_text(f"{md5}:{len(sample)}:Portal.Test.EICAR.Hash\n")
        (database / "portal-test.ndb").write_text(f"Portal.Test.EICAR.Bytes:0:*:{sample.hex()}\n")
        self.socket = self.root / "clamd.sock"
        self.config = self.root / "clamd.conf"
        self.config.write_text(
            f"LocalSocket {self.socket}\n"
            "Foreground yes\n"
            f"DatabaseDirectory {database}\n"
            f"PidFile {self.root / 'clamd.pid'}\n"
            f"TemporaryDirectory {self.root}\n"
            f"StreamMaxLength {STREAM_MAX_BYTES}\n"
            "LogSyslog no\n"
            "LogTime no\n"
            "SelfCheck 0\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        process = subprocess.Popen(
            [_clamd_binary(), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.process = process
        deadline = time.monotonic() + 30
        while not _answers(self.socket):
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"clamd did not start: {error}")
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer within 30 s")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGCONT)  # in case it was frozen
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr:
            process.stderr.close()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def clamd(start: bool = True) -> Iterator[ClamdServer]:
    server = ClamdServer()
    try:
        if start:
            server.start()
        yield server
    finally:
        server.remove()


@contextmanager
def clamd_server() -> Iterator[str]:
    """Start clamd with its own socket and database; yields the socket's path."""
    with clamd() as server:
        yield str(server.socket)


def _answers(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(path))
            client.sendall(b"zPING\0")
            return client.recv(16).startswith(b"PONG")
    except OSError:
        return False
