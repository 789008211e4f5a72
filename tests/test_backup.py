"""Backup and restore round trips on SQLite and PostgreSQL: every row and every file.

Each engine gets a source portal of its own (migrated, the demo data plus
tests/backup_data.py), in separate processes as an operator would run them:
``manage.py backup``, then ``manage.py restore`` into a fresh database and fresh
file directories. The two databases are compared table by table, row by row
(and, on PostgreSQL, sequence by sequence), and the files byte by byte.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.services import postgres_server

ROOT = Path(__file__).resolve().parents[1]
PORTAL_APPS = {
    "accounts",
    "billing",
    "content",
    "core",
    "customers",
    "documents",
    "live",
    "servicedesk",
    "tokens",
}


@dataclass
class Portal:
    """One portal installation: a data directory and a database, driven by manage.py."""

    data_dir: Path
    database_url: str
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PORTAL_", "DATABASE_", "REDIS_", "DJANGO_", "PROMETHEUS_"))
        }
        self.env.update(
            PORTAL_DATA_DIR=str(self.data_dir),
            PORTAL_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        if self.database_url:
            self.env["DATABASE_URL"] = self.database_url

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result

    @property
    def engine(self) -> str:
        return "postgresql" if self.database_url.startswith("postgres") else "sqlite"

    def tables(self) -> dict[str, list[str]]:
        """Every table's rows (as sorted reprs), plus the schema and the sequences."""
        if self.engine == "sqlite":
            connection = sqlite3.connect(self.data_dir / "portal.sqlite3")
            try:
                dump: dict[str, list[str]] = {
                    "<schema>": sorted(
                        repr(row)
                        for row in connection.execute(
                            "SELECT type, name, tbl_name, sql FROM sqlite_master"
                        )
                    )
                }
                names = [
                    name
                    for (name,) in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    )
                ]
                for name in names:
                    rows = connection.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608
                    dump[name] = sorted(repr(row) for row in rows)
            finally:
                connection.close()
            return dump
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as pg:
            dump = {
                "<schema>": sorted(
                    repr(row)
                    for row in pg.execute(
                        "SELECT table_name, column_name, data_type, is_nullable, column_default "
                        "FROM information_schema.columns WHERE table_schema = 'public'"
                    )
                ),
                # Names, not definitions: PostgreSQL re-parses a partial index's
                # condition on restore into an equivalent, differently written one.
                "<indexes>": sorted(
                    repr(row)
                    for row in pg.execute(
                        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'"
                    )
                ),
                "<constraints>": sorted(
                    repr(row)
                    for row in pg.execute(
                        "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint "
                        "WHERE connamespace = 'public'::regnamespace"
                    )
                ),
                "<sequences>": sorted(
                    repr(row)
                    for row in pg.execute(
                        "SELECT sequencename, last_value FROM pg_sequences "
                        "WHERE schemaname = 'public'"
                    )
                ),
            }
            names = [
                name
                for (name,) in pg.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            ]
            for name in names:
                rows = pg.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608
                dump[name] = sorted(repr(row) for row in rows)
        return dump

    def files(self) -> dict[str, bytes]:
        """Every stored file (attachments under media/, documents/), by relative path."""
        found: dict[str, bytes] = {}
        for directory in ("media", "documents"):
            root = self.data_dir / directory
            if root.exists():
                for path in sorted(root.rglob("*")):
                    if path.is_file():
                        found[str(path.relative_to(self.data_dir))] = path.read_bytes()
        return found


def _suite_postgres() -> str | None:
    """The PostgreSQL server the suite runs on (CI's second pass), without the database."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url.rsplit("/", 1)[0]
    return None


class Databases:
    """Fresh databases on one PostgreSQL server, or fresh SQLite files."""

    def __init__(self, server_url: str | None, root: Path) -> None:
        self.server_url, self.root = server_url, root
        self.created: list[str] = []

    def new_portal(self, label: str) -> Portal:
        data_dir = self.root / f"{label}-{secrets.token_hex(3)}"
        data_dir.mkdir()
        if self.server_url is None:
            return Portal(data_dir, "")
        import psycopg

        name = f"backup_{label}_{secrets.token_hex(4)}"
        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return Portal(data_dir, f"{self.server_url}/{name}")

    def drop_all(self) -> None:
        if self.server_url is None:
            return
        import psycopg

        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The SQLite pass of CI runs both engines; its PostgreSQL pass (DATABASE_URL set)
# runs the PostgreSQL round trip again on its own server, not SQLite's a second time.
ENGINES = ["postgresql"] if _suite_postgres() else ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=ENGINES)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    with ExitStack() as stack:
        server_url: str | None = None
        if request.param == "postgresql":
            server_url = _suite_postgres() or stack.enter_context(postgres_server())
        databases = Databases(server_url, tmp_path_factory.mktemp(f"backup-{request.param}"))
        stack.callback(databases.drop_all)
        yield databases


@dataclass
class Backup:
    source: Portal
    archive: Path
    rows: dict[str, list[str]]
    files: dict[str, bytes]


@pytest.fixture(scope="module")
def backup(databases: Databases) -> Backup:
    source = databases.new_portal("source")
    source.manage("migrate", "--noinput", "-v", "0")
    source.manage("shell", "--no-imports", "-c", "from tests.backup_data import add; add()")
    archive = databases.root / "portal.tar"
    output = source.manage("backup", str(archive)).stdout
    assert "Backup written" in output
    return Backup(source, archive, source.tables(), source.files())


def test_round_trip_restores_every_row_and_every_file(databases: Databases, backup: Backup) -> None:
    # The data is realistic: every app has rows, both storages have files.
    filled = {name for name, rows in backup.rows.items() if rows and not name.startswith("<")}
    assert {name.split("_", 1)[0] for name in filled} >= PORTAL_APPS
    assert len(filled) >= 30
    assert any(name.startswith("media/") for name in backup.files)
    assert sum(name.startswith("documents/") for name in backup.files) >= 5
    with tarfile.open(backup.archive) as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["database"]["engine"] == backup.source.engine
    assert len(manifest["files"]) == len(backup.files)

    target = databases.new_portal("target")
    output = target.manage("restore", str(backup.archive)).stdout
    assert f"{len(backup.files)} file(s)" in output

    restored = target.tables()
    assert restored.keys() == backup.rows.keys()
    for table, rows in backup.rows.items():
        assert restored[table] == rows, f"table {table} differs after the restore"
    assert target.files() == backup.files
    # The restored portal is complete: no migration is missing, and it keeps
    # numbering where the source left off (sequences, counters).
    target.manage("migrate", "--check", "-v", "0")

    # A second restore into the now filled portal is refused and changes nothing ...
    refused = target.manage("restore", str(backup.archive), check=False)
    assert refused.returncode != 0
    assert "The database is not empty" in refused.stderr
    assert target.tables() == restored

    # ... unless forced, which replaces everything with the backup's state.
    target.manage("shell", "--no-imports", "-c", "from tests.backup_data import change; change()")
    assert target.tables() != restored
    assert target.files() != backup.files
    target.manage("restore", "--force", str(backup.archive))
    assert target.tables() == backup.rows
    assert target.files() == backup.files


def _damage(archive: Path, copy: Path, member_prefix: str) -> str:
    """Flip one byte inside the first member whose name starts with ``member_prefix``."""
    shutil.copyfile(archive, copy)
    with tarfile.open(copy) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(member_prefix))
    with copy.open("r+b") as handle:
        handle.seek(member.offset_data + member.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return member.name


def _rewrite_manifest(archive: Path, copy: Path, **changes: Any) -> None:
    with tarfile.open(archive) as source, tarfile.open(copy, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest.update(changes)
                data = json.dumps(manifest).encode()
                member.size = len(data)
            import io

            target.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("files/documents/", "does not match its checksum"),
        ("database/", "does not match its checksum"),
        ("version", "format version 99"),
        ("truncate", "damaged"),
    ],
)
def test_a_damaged_or_foreign_archive_is_refused_before_anything_changes(
    databases: Databases, backup: Backup, damage: str, message: str
) -> None:
    copy = databases.root / f"damaged-{secrets.token_hex(3)}.tar"
    if damage == "version":
        _rewrite_manifest(backup.archive, copy, version=99)
    elif damage == "truncate":
        data = backup.archive.read_bytes()
        copy.write_bytes(data[: len(data) // 2])
    else:
        _damage(backup.archive, copy, damage)
    target = databases.new_portal("refused")
    result = target.manage("restore", str(copy), check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was applied: no tables, no files.
    rows = target.tables()
    assert [name for name in rows if not name.startswith("<") and rows[name]] == []
    assert target.files() == {}


def test_an_archive_of_the_other_engine_is_refused(databases: Databases, backup: Backup) -> None:
    copy = databases.root / "other-engine.tar"
    other = "sqlite" if backup.source.engine == "postgresql" else "postgresql"
    with tarfile.open(backup.archive) as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    _rewrite_manifest(backup.archive, copy, database={**manifest["database"], "engine": other})
    target = databases.new_portal("engine")
    result = target.manage("restore", str(copy), check=False)
    assert result.returncode != 0
    assert f"holds a {other} database, but this portal uses {backup.source.engine}" in result.stderr
    assert target.files() == {}
