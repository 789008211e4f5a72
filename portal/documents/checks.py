"""Deployment checks: a configuration that would hold every document forever."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def scanner_policy_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.PORTAL_CLAMD_SOCKET or settings.PORTAL_SCAN_POLICY != "hold":
        return []
    return [
        checks.Warning(
            "PORTAL_SCAN_POLICY is 'hold' but no virus scanner is configured, so uploaded "
            "documents can never be downloaded.",
            hint="Set PORTAL_CLAMD_SOCKET to clamd's socket, or PORTAL_SCAN_POLICY=allow.",
            id="portal.documents.W001",
        )
    ]
