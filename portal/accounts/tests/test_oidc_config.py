"""PORTAL_OIDC_PROVIDERS: what is accepted, what is refused with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.accounts.oidc.config import (
    CustomerGrant,
    form_action_origins,
    parse_providers,
    socialaccount_providers,
)

ROOT = Path(__file__).resolve().parents[3]

KEYCLOAK = {
    "id": "acme-sso",
    "name": "Acme Single Sign-On",
    "issuer": "https://sso.acme.example/realms/acme/",
    "client_id": "customer-portal",
    "client_secret": "from-keycloak",
}


def _one(entry: dict[str, Any], **kwargs: Any) -> Any:
    (provider,) = parse_providers(json.dumps([entry]), **kwargs)
    return provider


def test_nothing_configured_means_no_providers() -> None:
    assert parse_providers("") == []
    settings = socialaccount_providers([])
    assert settings["openid_connect"]["APPS"] == []
    # The portal's provider class is registered whatever the configuration.
    assert settings["openid_connect"]["provider_class"].endswith("PortalOIDCProvider")


def test_a_provider_becomes_an_allauth_app_without_database_rows() -> None:
    provider = _one(
        {
            **KEYCLOAK,
            "scopes": ["openid", "email", "profile", "groups"],
            "customer_claim": "groups",
            "customer_map": {"acme-billing": {"customer": "C-000001", "role": "billing"}},
        }
    )
    assert provider.issuer == "https://sso.acme.example/realms/acme"
    assert provider.customer_map == {"acme-billing": CustomerGrant("C-000001", "billing")}
    (app,) = socialaccount_providers([provider])["openid_connect"]["APPS"]
    assert app["provider_id"] == "acme-sso" and app["secret"] == "from-keycloak"
    assert app["settings"]["server_url"] == "https://sso.acme.example/realms/acme"
    assert app["settings"]["oauth_pkce_enabled"] is True
    assert app["settings"]["scope"] == ["openid", "email", "profile", "groups"]
    assert form_action_origins([provider]) == ["https://sso.acme.example"]


def test_the_secret_may_come_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_OIDC_SECRET_ACME_SSO", "from-the-vault")
    entry = {k: v for k, v in KEYCLOAK.items() if k != "client_secret"}
    assert _one(entry).client_secret == "from-the-vault"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Acme SSO"}, "lower-case letters"),
        ({"issuer": "ftp://sso.acme.example"}, "https://"),
        ({"issuer": "http://sso.acme.example"}, "must use https://"),
        ({"issuer": "https://sso.acme.example/.well-known/openid-configuration"}, "without"),
        ({"scopes": ["email"]}, "include 'openid'"),
        ({"client_id": ""}, "'client_id' is required"),
        ({"customer_map": {"g": {"customer": "C-1", "role": "owner"}}}, "role must be one of"),
        ({"customer_map": {"g": {"customer": "C-1"}}}, "needs 'customer_claim'"),
        ({"colour": "blue"}, "unknown keys: colour"),
        ({"end_session": "yes"}, "true or false"),
    ],
)
def test_mistakes_are_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _one({**KEYCLOAK, **change})


def test_plain_http_only_for_a_provider_on_this_machine_in_development() -> None:
    local = {**KEYCLOAK, "issuer": "http://127.0.0.1:9400"}
    assert _one(local).issuer == "http://127.0.0.1:9400"
    with pytest.raises(ImproperlyConfigured, match="must use https://"):
        _one(local, production=True)


def test_not_json_and_duplicates_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="not valid JSON"):
        parse_providers("[{")
    with pytest.raises(ImproperlyConfigured, match="JSON list"):
        parse_providers(json.dumps(KEYCLOAK))
    with pytest.raises(ImproperlyConfigured, match="duplicate id acme-sso"):
        parse_providers(json.dumps([KEYCLOAK, KEYCLOAK]))
    with pytest.raises(ImproperlyConfigured, match="its own client_id"):
        parse_providers(json.dumps([KEYCLOAK, {**KEYCLOAK, "id": "other"}]))


def test_the_settings_read_the_variable_and_open_the_csp_to_the_provider(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_DATA_DIR=str(tmp_path),
        PORTAL_OIDC_PROVIDERS=json.dumps([KEYCLOAK]),
    )
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'][0]['provider_id'],"
        " s.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'][1]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["acme-sso", "https://sso.acme.example"]
    env["PORTAL_OIDC_PROVIDERS"] = "[{"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "PORTAL_OIDC_PROVIDERS is not valid JSON" in result.stderr
