"""Fixtures shared by every test: static files, the live portal server, components."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.components import COMPONENTS, MISSING_MARK, missing_in_run
from tests.server import PortalServer

if TYPE_CHECKING:
    from tests.oidc_provider import LocalOIDCProvider


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

    from portal.accounts.session_store import forget_sessions
    from portal.accounts.user_cache import forget_all
    from portal.core.fragments import forget_local

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    forget_all()
    forget_local()
    forget_sessions()
    yield
    cache.clear()
    forget_all()
    forget_local()
    forget_sessions()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language, whatever the previous one activated."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def portal_server(django_db_setup: Any) -> Iterator[PortalServer]:
    """The portal's real ASGI application under uvicorn on a free loopback port.

    It uses the test database; tests that talk to it need ``transactional_db``
    so that what they create is committed and visible to the server's threads.
    """
    with PortalServer() as server:
        yield server


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[LocalOIDCProvider]:
    """A real OpenID Connect provider (oidc-provider-mock) on a free loopback port."""
    from tests.oidc_provider import LocalOIDCProvider

    with LocalOIDCProvider() as provider:
        yield provider


@pytest.fixture
def oidc(settings: Any, oidc_provider: LocalOIDCProvider) -> LocalOIDCProvider:
    """The local provider, configured as the portal's only identity provider."""
    from portal.accounts.oidc.config import (
        CustomerGrant,
        ProviderConfig,
        form_action_origins,
        socialaccount_providers,
    )
    from tests.oidc_provider import TEST_IDP_CUSTOMER, TEST_IDP_ID

    oidc_provider.reset()
    provider = ProviderConfig(
        id=TEST_IDP_ID,
        name="Test IdP",
        issuer=oidc_provider.url,
        client_id="portal-test",
        client_secret="portal-test-secret",  # noqa: S106 - the test provider takes any
        customer_claim="groups",
        customer_map={
            "acme-staff": CustomerGrant(customer=TEST_IDP_CUSTOMER, role="member"),
            "acme-admins": CustomerGrant(customer=TEST_IDP_CUSTOMER, role="admin"),
        },
    )
    settings.PORTAL_OIDC_PROVIDERS = [provider]
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers([provider])
    policy = dict(settings.CONTENT_SECURITY_POLICY)
    directives = dict(policy["DIRECTIVES"])
    directives["form-action"] = [*directives["form-action"], *form_action_origins([provider])]
    policy["DIRECTIVES"] = directives
    settings.CONTENT_SECURITY_POLICY = policy
    return oidc_provider


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Figures a test wants in the log (record_property("terminal_summary", text)).
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get(
        "failed", []
    ):
        for name, value in getattr(report, "user_properties", []):
            if name == "terminal_summary":
                terminalreporter.section(report.nodeid.rsplit("::", 1)[-1])
                terminalreporter.write_line(str(value))
    _missing_components_summary(terminalreporter)


def _missing_components_summary(terminalreporter: Any) -> None:
    # Read from the skip reports rather than from missing_in_run alone: under
    # pytest-xdist the skips happen in worker processes.
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        if MISSING_MARK in reason:
            reasons.add(reason.removeprefix("Skipped: "))
    if not reasons and not missing_in_run:
        return
    terminalreporter.section("missing system components")
    for key in sorted(missing_in_run):
        component = COMPONENTS[key]
        reasons.add(f"{component.name} {MISSING_MARK} {component.install}")
    for reason in sorted(reasons):
        terminalreporter.write_line(f"Tests SKIPPED because {reason}")


def pytest_report_header() -> str:
    from django.db import connection

    return f"database: {connection.vendor} ({settings.DATABASES['default']['ENGINE']})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (the second pass of CI), leave out the tests that start their own
    database and servers: the SQLite pass ran them already, and the run would repeat them
    unchanged. They are deselected (counted as such), not skipped."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    ours = [item for item in items if item.get_closest_marker("own_servers")]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]
