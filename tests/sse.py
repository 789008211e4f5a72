"""A small Server-Sent Events client for tests: reads a stream in a background thread."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Frame:
    id: str = ""
    event: str = "message"
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class SSEClient:
    def __init__(self, url: str, *, cookies: dict[str, str] | None = None, **headers: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = {"Accept": "text/event-stream", **headers}
        if cookies:
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.frames: queue.Queue[Frame | None] = queue.Queue()
        self.comments: list[str] = []
        self.status: int | None = None
        self.response_headers: dict[str, str] = {}
        self.body = b""
        self.ended = threading.Event()
        self._connected = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SSEClient:
        self._thread.start()
        if not self._connected.wait(10):
            raise TimeoutError("the stream did not answer")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self._conn.request("GET", self.path, headers=self.headers)
            response = self._conn.getresponse()
            self.status = response.status
            self.response_headers = {k.lower(): v for k, v in response.getheaders()}
            if response.status != 200:
                self.body = response.read()
                self._connected.set()
                return
            self._connected.set()
            frame = Frame()
            while True:
                raw = response.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\n")
                if line == "":
                    if frame.data or frame.id:
                        self.frames.put(frame)
                    frame = Frame()
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        frame.data = f"{frame.data}\n{value}" if frame.data else value
                    elif name in {"id", "event"}:
                        setattr(frame, name, value)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            if self._conn is not None:
                self._conn.close()
            self._connected.set()
            self.ended.set()
            self.frames.put(None)

    def next(self, timeout: float = 2.0) -> Frame:
        """The next event; fails if none arrives in ``timeout`` seconds."""
        frame = self.frames.get(timeout=timeout)
        if frame is None:
            self.frames.put(None)
            raise EOFError("the stream ended")
        return frame

    def nothing_within(self, seconds: float) -> bool:
        try:
            frame = self.frames.get(timeout=seconds)
        except queue.Empty:
            return True
        self.frames.put(frame)
        return frame is None

    def close(self) -> None:
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=10)
