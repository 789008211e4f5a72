"""No scanner: every file is recorded as not scanned (the download policy decides)."""

from __future__ import annotations

from collections.abc import Iterable

from .base import Scanner, ScanResult, Verdict


class NoScanner(Scanner):
    name = "none"

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        return ScanResult(Verdict.NOT_SCANNED)
