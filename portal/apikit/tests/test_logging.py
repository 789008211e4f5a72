"""A token never reaches the logs: not on success, refusal, errors or rate limits."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from portal.core.logging import JsonFormatter
from portal.tokens.models import PersonalAccessToken
from portal.tokens.services import token_revoke

from .client import ApiClient
from .world import World, build_world

pytestmark = pytest.mark.django_db


def test_no_token_in_any_log_line(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    world: World = build_world()
    secret = world.write_token
    api = ApiClient(secret)
    api.get("me")
    api.patch("me", {"city": "Bern"})
    api.patch("me", {"city": secret})  # even a token pasted into a field is not logged...
    api.get("notifications", page=99)
    Client(headers={"Authorization": f"Bearer {secret}x"}).get("/api/v1/me")
    Client(headers={"Authorization": f"Token {secret}"}).get("/api/v1/me")

    from portal.customers import api as customers_api

    monkeypatch.setattr(customers_api, "membership_out", lambda m: 1 / 0)
    api.get("customers")  # a 500 with a traceback
    settings.PORTAL_API_RATE_LIMIT = (1, 60)
    api.get("me")
    token_revoke(
        token=PersonalAccessToken.objects.get(name="Integration", user=world.member, scope="write"),
        actor=world.member,
    )
    api.get("me")

    formatter = JsonFormatter()
    assert caplog.records, "the requests were logged"
    for record in caplog.records:
        line = formatter.format(record)
        assert secret not in line, line
        assert secret[5:] not in line, line
    output = capsys.readouterr()
    assert secret not in output.out and secret not in output.err
