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


@contextmanager
def clamd_server() -> Iterator[str]:
    """Start clamd with its own socket and database; yields the socket's path."""
    require("clamd")
    root = Path(tempfile.mkdtemp(prefix="portal-clamd-"))
    database = root / "db"
    database.mkdir()
    sample = eicar()
    md5 = hashlib.md5(sample, usedforsecurity=False).hexdigest()
    (database / "portal-test.hdb").write_text(f"{md5}:{len(sample)}:Portal.Test.EICAR.Hash\n")
    (database / "portal-test.ndb").write_text(f"Portal.Test.EICAR.Bytes:0:*:{sample.hex()}\n")
    sock = root / "clamd.sock"
    config = root / "clamd.conf"
    config.write_text(
        f"LocalSocket {sock}\n"
        "Foreground yes\n"
        f"DatabaseDirectory {database}\n"
        f"PidFile {root / 'clamd.pid'}\n"
        f"TemporaryDirectory {root}\n"
        f"StreamMaxLength {STREAM_MAX_BYTES}\n"
        "LogSyslog no\n"
        "LogTime no\n"
        "SelfCheck 0\n"
    )
    process = subprocess.Popen(
        [_clamd_binary(), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(sock):
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"clamd did not start: {error}")
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer within 30 s")
            time.sleep(0.05)
        yield str(sock)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


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
