"""Identity providers from the environment, turned into django-allauth settings.

This module is imported by ``portal.settings``: it must not touch models or
anything else that needs Django to be set up.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

ENV_PROVIDERS = "PORTAL_OIDC_PROVIDERS"
DEFAULT_SCOPES = ("openid", "email", "profile")
ROLES = ("admin", "member", "billing")
PROVIDER_CLASS = "portal.accounts.oidc.provider.PortalOIDCProvider"
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_KNOWN_KEYS = {
    "id",
    "name",
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
    "customer_claim",
    "customer_map",
    "end_session",
}


@dataclass(frozen=True)
class CustomerGrant:
    customer: str  # the customer number, e.g. C-000001
    role: str


@dataclass(frozen=True)
class ProviderConfig:
    id: str
    name: str
    issuer: str
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    customer_claim: str = ""
    customer_map: dict[str, CustomerGrant] = field(default_factory=dict)
    end_session: bool = True

    @property
    def origin(self) -> str:
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def app_settings(self) -> dict[str, Any]:
        """One entry of SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]."""
        return {
            "provider_id": self.id,
            "name": self.name,
            "client_id": self.client_id,
            "secret": self.client_secret,
            "settings": {
                "server_url": self.issuer,
                "scope": list(self.scopes),
                "oauth_pkce_enabled": True,
                "end_session": self.end_session,
                "customer_claim": self.customer_claim,
                "customer_map": {
                    value: {"customer": grant.customer, "role": grant.role}
                    for value, grant in self.customer_map.items()
                },
            },
        }


def _fail(index: int, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{ENV_PROVIDERS}: provider {index + 1}: {message}")


def _text(entry: dict[str, Any], key: str, index: int, *, required: bool) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise _fail(index, f"'{key}' must be a string.")
    value = value.strip()
    if required and not value:
        raise _fail(index, f"'{key}' is required.")
    return value


def _is_loopback(host: str) -> bool:
    return host in {"localhost", "127.0.0.1", "::1"} or host.startswith("127.")


def _issuer(entry: dict[str, Any], index: int, *, production: bool) -> str:
    issuer = _text(entry, "issuer", index, required=True).rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise _fail(index, f"'issuer' must be an https:// URL, not {issuer!r}.")
    if parts.query or parts.fragment:
        raise _fail(index, "'issuer' must not have a query or fragment.")
    if parts.scheme == "http" and (production or not _is_loopback(parts.hostname)):
        raise _fail(
            index, "'issuer' must use https:// (plain http only for a provider on this machine)."
        )
    if "/.well-known/" in issuer:
        raise _fail(
            index,
            "'issuer' is the issuer URL itself, without /.well-known/openid-configuration.",
        )
    return issuer


def _scopes(entry: dict[str, Any], index: int) -> tuple[str, ...]:
    scopes = entry.get("scopes", list(DEFAULT_SCOPES))
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise _fail(index, "'scopes' must be a list of scope names.")
    if "openid" not in scopes:
        raise _fail(index, "'scopes' must include 'openid'.")
    return tuple(dict.fromkeys(scopes))


def _customer_map(entry: dict[str, Any], index: int) -> dict[str, CustomerGrant]:
    raw = entry.get("customer_map", {})
    if not isinstance(raw, dict):
        raise _fail(index, "'customer_map' must be an object of claim value to grant.")
    grants: dict[str, CustomerGrant] = {}
    for value, grant in raw.items():
        if not isinstance(grant, dict) or not isinstance(grant.get("customer"), str):
            raise _fail(
                index,
                f"customer_map[{value!r}] must look like "
                '{"customer": "C-000001", "role": "member"}.',
            )
        role = grant.get("role", "member")
        if role not in ROLES:
            raise _fail(index, f"customer_map[{value!r}]: role must be one of {', '.join(ROLES)}.")
        grants[value] = CustomerGrant(customer=grant["customer"].strip(), role=role)
    return grants


def parse_providers(raw: str, *, production: bool = False) -> list[ProviderConfig]:
    """The providers described by the JSON text of PORTAL_OIDC_PROVIDERS."""
    if not raw.strip():
        return []
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{ENV_PROVIDERS} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ImproperlyConfigured(f"{ENV_PROVIDERS} must be a JSON list of objects.")
    providers: list[ProviderConfig] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _fail(index, "must be a JSON object.")
        unknown = set(entry) - _KNOWN_KEYS
        if unknown:
            raise _fail(index, f"unknown keys: {', '.join(sorted(unknown))}.")
        provider_id = _text(entry, "id", index, required=True)
        if not _ID_PATTERN.match(provider_id):
            raise _fail(
                index,
                f"'id' {provider_id!r} must be lower-case letters, digits and dashes "
                "(it is part of the redirect URI).",
            )
        secret = _text(entry, "client_secret", index, required=False)
        if not secret:
            # The secret may come on its own, from a secret store.
            env_name = "PORTAL_OIDC_SECRET_" + provider_id.upper().replace("-", "_")
            secret = os.environ.get(env_name, "").strip()
        customer_claim = _text(entry, "customer_claim", index, required=False)
        customer_map = _customer_map(entry, index)
        if customer_map and not customer_claim:
            raise _fail(index, "'customer_map' needs 'customer_claim', the claim to look at.")
        end_session = entry.get("end_session", True)
        if not isinstance(end_session, bool):
            raise _fail(index, "'end_session' must be true or false.")
        providers.append(
            ProviderConfig(
                id=provider_id,
                name=_text(entry, "name", index, required=True),
                issuer=_issuer(entry, index, production=production),
                client_id=_text(entry, "client_id", index, required=True),
                client_secret=secret,
                scopes=_scopes(entry, index),
                customer_claim=customer_claim,
                customer_map=customer_map,
                end_session=end_session,
            )
        )
    ids = [p.id for p in providers]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"{ENV_PROVIDERS}: duplicate id {', '.join(duplicates)}.")
    client_ids = [p.client_id for p in providers]
    if len(set(client_ids)) != len(client_ids):
        # django-allauth finds a provider again (after the second factor, say)
        # by its client id.
        raise ImproperlyConfigured(
            f"{ENV_PROVIDERS}: each provider needs its own client_id; register the portal "
            "under different client ids."
        )
    return providers


def socialaccount_providers(providers: list[ProviderConfig]) -> dict[str, Any]:
    """The SOCIALACCOUNT_PROVIDERS setting: no SocialApp rows in the database."""
    return {
        "openid_connect": {
            # Our subclass: nonce, signature check, strict email_verified.
            "provider_class": PROVIDER_CLASS,
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [provider.app_settings() for provider in providers],
        }
    }


def form_action_origins(providers: list[ProviderConfig]) -> list[str]:
    """Origins the browser must be allowed to reach after a form post.

    "Sign in with ..." and "Sign out" are forms whose answer is a redirect to
    the provider; CSP's form-action covers those redirects too.
    """
    return sorted({provider.origin for provider in providers})
