from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "portal_name": settings.PORTAL_NAME,
        "portal_env": settings.PORTAL_ENV,
        # Whether any identity provider is configured (the account pages link
        # to "Sign-in providers" only then).
        "oidc_enabled": bool(
            settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS")
        ),
    }
