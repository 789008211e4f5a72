from __future__ import annotations

from allauth.socialaccount.models import SocialAccount, SocialApp
from django import template

register = template.Library()


@register.filter
def provider_label(account: SocialAccount) -> str:
    """Say "Acme Keycloak (ada@acme.example)", also for a provider no longer configured."""
    try:
        name = str(account.get_provider().name)
    except SocialApp.DoesNotExist:
        name = account.provider
    data = account.extra_data or {}
    claims = {**(data.get("id_token") or {}), **(data.get("userinfo") or {})}
    who = claims.get("email") or claims.get("preferred_username")
    return f"{name} ({who})" if who else name
