"""Faults with the real component stopped: the portal degrades clearly and recovers by itself."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.cluster import Cluster
from tests.services import postgres

SIGNED_IN = """
import json
from django.conf import settings
from django.test import Client
from portal.core.tests.factories import UserFactory
client = Client()
client.force_login(UserFactory())
name = settings.SESSION_COOKIE_NAME
print(json.dumps({name: client.cookies[name].value}))
"""


def _wait_for(check: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.postgres
@pytest.mark.own_servers
def test_database_down_gives_a_clear_503_and_the_portal_recovers_without_restart(
    tmp_path: Path,
) -> None:
    from django.conf import settings

    with (
        postgres() as database,
        Cluster(
            data_dir=tmp_path,
            nodes=1,
            DATABASE_URL=f"{database.url}/postgres",
            PORTAL_DB_POOL_TIMEOUT="2",
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
        ) as cluster,
    ):
        cookies: dict[str, str] = cluster.python(SIGNED_IN)  # type: ignore[assignment]
        base = cluster.urls[0]
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            assert client.get("/dashboard/").status_code == 200

            database.stop()
            # The dashboard just seen is served from the cache (its data cannot have
            # changed without the database); a page that needs the database says so.
            assert client.get("/dashboard/").status_code == 200
            page = client.get("/notifications/")
            assert page.status_code == 503
            assert page.headers["Retry-After"] == "30"
            assert "Back in a moment" in page.text and "Traceback" not in page.text
            # Probes come without cookies, as a load balancer's do.
            assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200

            database.start()
            assert _wait_for(lambda: client.get("/notifications/").status_code == 200)
            assert httpx.get(f"{base}/readyz").status_code == 200
