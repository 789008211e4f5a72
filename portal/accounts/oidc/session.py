"""What the session keeps about a sign-in through an identity provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url

SESSION_KEY = "portal_oidc"


def remember_sign_in(
    request: HttpRequest,
    *,
    provider_id: str,
    client_id: str,
    id_token: str,
    end_session_endpoint: str | None,
    mfa: bool,
) -> None:
    request.session[SESSION_KEY] = {
        "provider_id": provider_id,
        "client_id": client_id,
        "id_token": id_token,
        "end_session_endpoint": end_session_endpoint or "",
        "mfa": mfa,
    }


def _signed_in_through_provider(request: HttpRequest) -> dict[str, Any]:
    session = getattr(request, "session", None)
    data = session.get(SESSION_KEY) if session is not None else None
    return data if isinstance(data, dict) else {}


def provider_asserted_mfa(request: HttpRequest) -> bool:
    """Whether this session began with a provider sign-in whose ``amr`` included ``mfa``."""
    return _signed_in_through_provider(request).get("mfa") is True


def end_session_url(request: HttpRequest) -> str | None:
    """The provider's sign-out address for this session (RP-initiated logout), if any.

    OpenID Connect RP-Initiated Logout 1.0: the ID token as a hint of who is
    signing out, and where the provider should send the browser back to.
    """
    data = _signed_in_through_provider(request)
    endpoint = data.get("end_session_endpoint")
    if not endpoint or not data.get("id_token"):
        return None
    back = request.build_absolute_uri(resolve_url(settings.ACCOUNT_LOGOUT_REDIRECT_URL))
    query = urlencode(
        {
            "id_token_hint": data["id_token"],
            "post_logout_redirect_uri": back,
            "client_id": data.get("client_id", ""),
        }
    )
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{query}"
