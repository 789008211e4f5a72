"""The Content-Security-Policy header, built once per process for the pages that allow it.

django-csp builds the policy from the settings again for every response (two
dataclass copies, a deep copy of each directive, sorting and joining), which
costs a signed-in page as much as a cache round trip. The policy of a response
that used no nonce and carries no per-view change (``_csp_update`` and the like,
as the payment page has) is the same string every time: this middleware keeps it,
and hands every other response to django-csp as before.
"""

from __future__ import annotations

import http.client
from functools import cache
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

# What a view may set on its response to change the policy (django-csp's decorators).
PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
DEBUG_EXEMPT = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)


@cache
def settings_policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    """The policy the settings give (no nonce), and the path prefixes it leaves out."""
    config: dict[str, Any] = (
        getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if report_only
        else getattr(settings, "CONTENT_SECURITY_POLICY", None)
    ) or {}
    excluded = tuple(config.get("EXCLUDE_URL_PREFIXES", None) or ())
    return build_policy(report_only=report_only), excluded


@receiver(setting_changed)
def _forget_policy(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_policy.cache_clear()


class CSPMiddleware(LibraryCSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in DEBUG_EXEMPT and settings.DEBUG:
            return response
        for header, report_only, exempt in (
            (HEADER, False, "_csp_exempt"),
            (HEADER_REPORT_ONLY, True, "_csp_exempt_ro"),
        ):
            policy, excluded = settings_policy(report_only)
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp does: a nonce asked for after this point would not be in the header.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
