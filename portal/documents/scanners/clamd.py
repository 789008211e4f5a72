"""ClamAV's daemon over its socket, with the INSTREAM command.

The protocol is a few lines, so no client library: send ``zINSTREAM\\0``, then
each chunk prefixed with its length as a 4-byte big-endian number, then a zero
length; clamd answers ``stream: OK``, ``stream: <signature> FOUND`` or
``... ERROR``. A stream longer than clamd's ``StreamMaxLength`` makes clamd
close the connection: that is a failed scan, never a clean one.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

from .base import Scanner, ScanResult, Verdict

_MAX_CHUNK = 64 * 1024


class ClamdScanner(Scanner):
    name = "clamd"

    def __init__(self, *, address: str, timeout: float = 60.0) -> None:
        """``address`` is the path of clamd's Unix socket, or ``tcp://host:port``."""
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        if self.address.startswith("tcp://"):
            host, _, port = self.address.removeprefix("tcp://").rpartition(":")
            return socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise
        return sock

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return _read_reply(sock) == "PONG"
        except OSError:
            return False

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        try:
            with self._connect() as sock:
                sock.sendall(b"zINSTREAM\0")
                try:
                    for chunk in chunks:
                        for start in range(0, len(chunk), _MAX_CHUNK):
                            piece = chunk[start : start + _MAX_CHUNK]
                            sock.sendall(struct.pack("!L", len(piece)) + piece)
                    sock.sendall(struct.pack("!L", 0))
                except (BrokenPipeError, ConnectionResetError):
                    # clamd stops reading past StreamMaxLength; its reply may still be there.
                    reply = _read_reply(sock, quiet=True)
                    return ScanResult(Verdict.FAILED, reply or "the file is too large to scan")
                reply = _read_reply(sock)
        except OSError as exc:
            return ScanResult(Verdict.FAILED, f"clamd is not reachable: {exc.strerror or exc}")
        return _parse(reply)


def _read_reply(sock: socket.socket, *, quiet: bool = False) -> str:
    data = b""
    try:
        while not data.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        if not quiet:
            raise
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def _parse(reply: str) -> ScanResult:
    # "stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
    body = reply.split(":", 1)[1].strip() if reply.startswith("stream:") else reply
    if body == "OK":
        return ScanResult(Verdict.CLEAN)
    if body.endswith(" FOUND"):
        return ScanResult(Verdict.INFECTED, body.removesuffix(" FOUND").strip()[:200])
    return ScanResult(Verdict.FAILED, (body or "no answer from clamd")[:200])
