"""The portal's OpenID Connect provider class (registered through SOCIALACCOUNT_PROVIDERS)."""

from __future__ import annotations

import secrets
from typing import Any

import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider,
    _pick_data,
)
from django.http import HttpRequest, HttpResponse

from .views import PortalOIDCAdapter

NONCE_STATE_KEY = "nonce"


def claim_is_true(value: Any) -> bool:
    """A boolean claim; some providers send the strings "true"/"false"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class PortalOIDCProvider(OpenIDConnectProvider):  # type: ignore[misc]
    # Keeps allauth's id, so the URL names and stored accounts stay allauth's.
    package = "portal.accounts.oidc"
    oauth2_adapter_class = PortalOIDCAdapter
    # Sign-in by posting a token (allauth's headless API) is not offered:
    # without the redirect there is no nonce of ours to check it against.
    supports_token_authentication = False

    def redirect(
        self,
        request: HttpRequest,
        process: str,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        """Send the browser to the provider, with a fresh nonce kept in the sign-in's state."""
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        auth_params = dict(self.get_auth_params() if auth_params is None else auth_params)
        auth_params["nonce"] = nonce
        kwargs[NONCE_STATE_KEY] = nonce
        try:
            response: HttpResponse = super().redirect(
                request, process, next_url, data, auth_params=auth_params, **kwargs
            )
        except (OAuth2Error, requests.RequestException, ValueError, KeyError) as exc:
            # The provider's discovery document could not be had, read or trusted.
            response = render_authentication_error(request, self, exception=exc)
        return response

    def extract_email_addresses(self, data: dict[str, Any]) -> list[EmailAddress]:
        # Only an explicit email_verified=true counts: allauth would take the
        # string "false" for verified.
        claims = _pick_data(data)
        email = claims.get("email")
        if not email:
            return []
        verified = claim_is_true(claims.get("email_verified"))
        return [EmailAddress(email=email, verified=verified, primary=True)]
