"""A used TOTP code stays refused for as long as it could still be accepted.

allauth remembers a used code for one period (30 s), but with a tolerance of one
step each side a code is accepted for up to three periods: without this it could
be replayed 30-60 s after its use (ASVS 6.5.1, codes are single use).
"""

from __future__ import annotations

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache


def used_code_lifetime() -> int:
    """Seconds a code can be accepted: its own step and the tolerated ones around it."""
    return int(app_settings.TOTP_PERIOD) * (2 * int(app_settings.TOTP_TOLERANCE) + 1)


def _mark_code_used(self: TOTP, code: str) -> bool:
    return bool(cache.add(self._get_used_cache_key(code), "y", timeout=used_code_lifetime()))


def install() -> None:
    TOTP._mark_code_used = _mark_code_used
