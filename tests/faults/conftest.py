"""The fault tests run once per CI run, in the SQLite pass.

They start their own servers (PostgreSQL where the database matters, Redis,
clamd, uvicorn processes) or test a component other than the database, so the
second pass on PostgreSQL (.ci/run) would repeat the same checks: there they
are deselected, not skipped, and pytest's summary counts them as deselected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.localstripe import localstripe_server, stripe_test  # noqa: F401 - fixtures
from tests.services import PostgresServer, postgres

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    ours = [item for item in items if HERE in item.path.resolve().parents]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]


class MigratedPostgres:
    """One PostgreSQL server for the fault tests, with the portal's schema migrated once
    into a template; each test gets a fresh database copied from it in milliseconds."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._count = 0

    def new_database(self) -> str:
        import psycopg

        self._count += 1
        name = f"portal_fault_{self._count}"
        with psycopg.connect(f"{self.server.url}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return f"{self.server.url}/{name}"


TEMPLATE = "portal_template"


@pytest.fixture(scope="session")
def migrated_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedPostgres]:
    import psycopg

    from tests.cluster import Cluster

    with postgres() as server:
        with psycopg.connect(f"{server.url}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {TEMPLATE}")
        Cluster(
            data_dir=tmp_path_factory.mktemp("template"),
            DATABASE_URL=f"{server.url}/{TEMPLATE}",
        ).manage("migrate", "--noinput", "-v", "0")
        yield MigratedPostgres(server)
