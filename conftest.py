"""Fixtures shared by every test: static files, the live portal server, components."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.components import COMPONENTS, missing_in_run
from tests.server import PortalServer


@pytest.fixture(scope="session", autouse=True)
def _collected_static(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Collect static files once, with hashed names, as production serves them."""
    root: Path = tmp_path_factory.mktemp("static")
    settings.STATIC_ROOT = root
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _immediate_tasks(settings: Any) -> None:
    """Background tasks run at once, in the process that queues them (after commit)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def document_root(settings: Any, tmp_path: Path) -> Path:
    """Uploaded documents go to a temporary directory; no virus scanner unless a test
    asks for one (portal/documents/tests/conftest.py starts a real clamd)."""
    root = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    settings.PORTAL_SCANNER = {"BACKEND": "portal.documents.scanners.none.NoScanner"}
    settings.PORTAL_SCAN_POLICY = "allow"
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> Iterator[None]:
    """A fresh in-memory cache per test: rate limits must not leak between tests."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def portal_server(django_db_setup: Any) -> Iterator[PortalServer]:
    """The portal's real ASGI application under uvicorn on a free loopback port.

    It uses the test database; tests that talk to it need ``transactional_db``
    so that what they create is committed and visible to the server's threads.
    """
    with PortalServer() as server:
        yield server


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not missing_in_run:
        return
    terminalreporter.section("missing system components")
    for key in sorted(missing_in_run):
        component = COMPONENTS[key]
        terminalreporter.write_line(
            f"Tests that need {component.name} were SKIPPED. Install it with: {component.install}"
        )


def pytest_report_header() -> str:
    from django.db import connection

    return f"database: {connection.vendor} ({settings.DATABASES['default']['ENGINE']})"
