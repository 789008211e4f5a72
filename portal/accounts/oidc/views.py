"""The OAuth 2.0 adapter and the two views of the redirect flow.

allauth's own ``openid_connect`` views build allauth's adapter directly; these
are the same views with the portal's adapter, mounted at the same paths
(``/accounts/oidc/<provider_id>/login/`` and ``.../login/callback/``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse

from .tokens import IDTokenError, verify_id_token

logger = logging.getLogger(__name__)

# Where the callback leaves what sign-out needs, inside the sign-in's state.
SIGN_OUT_STATE_KEY = "portal_oidc_sign_out"


class PortalOIDCAdapter(OpenIDConnectOAuth2Adapter):  # type: ignore[misc]
    # The state of this sign-in (nonce, PKCE verifier), set by the callback view.
    state: dict[str, Any] | None = None

    @property
    def openid_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().openid_config
        # OpenID Connect Discovery 1.0, 4.3: the document must name the issuer
        # it was fetched for, or its keys and endpoints are not that issuer's.
        expected = self.get_provider().app.settings["server_url"].rstrip("/")
        if str(config.get("issuer", "")).rstrip("/") != expected:
            raise OAuth2Error(f"discovery names issuer {config.get('issuer')!r}, not {expected!r}")
        return config

    def _fetch_jwks(self) -> dict[str, Any]:
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            jwks: dict[str, Any] = response.json()
        return jwks

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        config = self.openid_config
        try:
            return verify_id_token(
                id_token,
                fetch_jwks=self._fetch_jwks,
                issuer=config["issuer"],
                client_id=app.client_id,
                nonce=(self.state or {}).get("nonce"),
                algorithms=config.get("id_token_signing_alg_values_supported"),
            )
        except IDTokenError as exc:
            logger.warning("OpenID Connect sign-in refused: ID token %s", exc)
            raise OAuth2Error(f"ID token {exc}") from exc

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        raw_id_token = kwargs["response"].get("id_token")
        if not raw_id_token:
            raise OAuth2Error("the provider sent no ID token")
        claims = self._decode_id_token(app, raw_id_token)
        data: dict[str, Any] = {"id_token": claims}
        if app.settings.get("fetch_userinfo", True):
            userinfo = self._fetch_user_info(token.token)
            # Core 1.0, 5.3.2: a userinfo answer about someone else is refused.
            if userinfo.get("sub") != claims["sub"]:
                raise OAuth2Error("userinfo is about another subject than the ID token")
            data["userinfo"] = userinfo
        if self.state is not None:
            self.state[SIGN_OUT_STATE_KEY] = {
                "provider_id": self.provider_id,
                "id_token": raw_id_token,
                "end_session_endpoint": self._end_session_endpoint(app),
            }
        sociallogin: SocialLogin = self.get_provider().sociallogin_from_response(request, data)
        return sociallogin

    def _end_session_endpoint(self, app: SocialApp) -> str | None:
        """Where sign-out sends the browser, if the provider offers it and we may go there."""
        endpoint = self.openid_config.get("end_session_endpoint")
        if not app.settings.get("end_session") or not isinstance(endpoint, str):
            return None
        # The sign-out form's redirect must stay within CSP form-action, which
        # names the issuer's origin.
        if _origin(endpoint) != _origin(app.settings["server_url"]):
            logger.warning(
                "provider %s: end_session_endpoint %s is not on the issuer's origin; "
                "signing out ends the portal session only",
                self.provider_id,
                endpoint,
            )
            return None
        return endpoint


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class PortalOIDCCallbackView(OAuth2CallbackView):  # type: ignore[misc]
    def _get_state(self, request: HttpRequest, provider: Any) -> tuple[Any, Any]:
        # allauth has already checked the state parameter against the session
        # (single use, ten minutes, this provider); hand it to the adapter so
        # the ID token's nonce can be compared with the one we sent.
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


@login_not_required  # type: ignore[untyped-decorator]
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2LoginView.adapter_view(PortalOIDCAdapter(request, provider_id))
        response: HttpResponse = view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404 from exc
    return response


@login_not_required  # type: ignore[untyped-decorator]
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = PortalOIDCCallbackView.adapter_view(PortalOIDCAdapter(request, provider_id))
        response: HttpResponse = view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404 from exc
    return response
