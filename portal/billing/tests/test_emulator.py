"""`make run` starts localstripe beside the portal and points the portal at it."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from portal.core.management.commands.serve import Command


def test_serve_starts_localstripe_on_loopback_and_points_the_portal_at_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.PORTAL_STRIPE_API_BASE = ""
    monkeypatch.setenv("PORTAL_LOCALSTRIPE_PORT", "0")  # any free port
    for name in ("PORTAL_STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    localstripe = Command()._start_localstripe("127.0.0.1", 8000)
    assert localstripe is not None
    try:
        assert localstripe.url.startswith("http://127.0.0.1:")
        assert os.environ["PORTAL_STRIPE_API_BASE"] == localstripe.url
        assert os.environ["STRIPE_SECRET_KEY"].startswith("sk_test_")
        assert os.environ["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
        script = httpx.get(f"{localstripe.url}/js.stripe.com/v3/")
        assert script.status_code == 200 and "localstripe" in script.text
    finally:
        localstripe.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{localstripe.url}/js.stripe.com/v3/", timeout=2)


def test_serve_leaves_real_stripe_keys_alone(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = "sk_live_configured"
    assert Command()._start_localstripe("127.0.0.1", 8000) is None
    settings.STRIPE_SECRET_KEY = ""
    settings.PRODUCTION = True
    assert Command()._start_localstripe("127.0.0.1", 8000) is None
