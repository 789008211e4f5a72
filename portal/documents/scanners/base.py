"""The interface every virus scanner implements."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass


class Verdict(enum.Enum):
    CLEAN = "clean"
    INFECTED = "infected"
    # The scanner could not give an answer (unreachable, timed out, refused the file).
    FAILED = "failed"
    # No scanner is configured.
    NOT_SCANNED = "not_scanned"


@dataclass(frozen=True)
class ScanResult:
    verdict: Verdict
    # The signature name for INFECTED, the reason for FAILED.
    detail: str = ""


class Scanner(ABC):
    """Looks at a file's bytes, given as chunks, and says whether it is infected.

    A scanner never raises for a file it cannot judge: it answers FAILED with
    the reason, so the caller records it and can try again later.
    """

    name: str = "scanner"

    @abstractmethod
    def scan(self, chunks: Iterable[bytes]) -> ScanResult: ...
