"""Virus scanners behind one interface. ``get_scanner()`` returns the configured one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Scanner, ScanResult, Verdict

__all__ = ["Scanner", "ScanResult", "Verdict", "get_scanner"]


def get_scanner() -> Scanner:
    """The scanner named by ``PORTAL_SCANNER`` (a dotted path), built from its options."""
    config: dict[str, Any] = settings.PORTAL_SCANNER
    backend = import_string(str(config["BACKEND"]))
    scanner: Scanner = backend(**config.get("OPTIONS", {}))
    return scanner
