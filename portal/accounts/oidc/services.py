"""What happens once a person has signed in through an identity provider."""

from __future__ import annotations

import logging
from typing import Any

from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest

from portal.accounts.models import User
from portal.customers.services import membership_grant_from_provider

from .session import remember_sign_in
from .views import SIGN_OUT_STATE_KEY

logger = logging.getLogger(__name__)

# RFC 8176 "mfa": the provider used more than one factor for this sign-in.
MFA_AMR_VALUE = "mfa"


def _claims(sociallogin: SocialLogin) -> dict[str, Any]:
    """The ID token's claims, with the userinfo answer taking precedence."""
    extra: dict[str, Any] = sociallogin.account.extra_data or {}
    claims: dict[str, Any] = dict(extra.get("id_token") or {})
    claims.update(extra.get("userinfo") or {})
    return claims


def _claim_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def provider_sign_in_completed(
    *, request: HttpRequest, user: User, sociallogin: SocialLogin
) -> None:
    """Called when the portal session of a provider sign-in begins.

    Remembers what single sign-out needs and whether the provider vouched for
    a second factor, and applies the provider's customer mapping, if any.
    """
    app = sociallogin.provider.app
    id_token_claims: dict[str, Any] = (sociallogin.account.extra_data or {}).get("id_token") or {}
    sign_out: dict[str, Any] = sociallogin.state.get(SIGN_OUT_STATE_KEY) or {}
    remember_sign_in(
        request,
        provider_id=app.provider_id,
        client_id=app.client_id,
        id_token=sign_out.get("id_token", ""),
        end_session_endpoint=sign_out.get("end_session_endpoint"),
        mfa=MFA_AMR_VALUE in _claim_values(id_token_claims.get("amr")),
    )
    apply_customer_mapping(request=request, user=user, sociallogin=sociallogin)


def apply_customer_mapping(*, request: HttpRequest, user: User, sociallogin: SocialLogin) -> None:
    """Memberships for the claim values the provider's customer_map names.

    Only adds: an existing membership keeps the role it has in the portal, and
    a value no longer asserted removes nothing (customer admins do that).
    """
    settings: dict[str, Any] = sociallogin.provider.app.settings
    claim: str = settings.get("customer_claim") or ""
    mapping: dict[str, dict[str, str]] = settings.get("customer_map") or {}
    if not claim or not mapping:
        return
    seen: set[str] = set()
    for value in _claim_values(_claims(sociallogin).get(claim)):
        grant = mapping.get(value)
        if grant is None or grant["customer"] in seen:
            continue
        seen.add(grant["customer"])
        membership = membership_grant_from_provider(
            user=user,
            customer_number=grant["customer"],
            role=grant["role"],
            provider_id=sociallogin.provider.app.provider_id,
            claim_value=value,
            request=request,
        )
        if membership is None:
            logger.warning(
                "customer_map of provider %s names customer %s, which does not exist",
                sociallogin.provider.app.provider_id,
                grant["customer"],
            )
