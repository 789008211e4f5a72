"""Backup and restore round trips on SQLite and PostgreSQL: every row and every file.

Each engine gets a source portal of its own (migrated, the demo data plus
tests/backup_data.py), in separate processes as an operator would run them:
``manage.py backup``, then ``manage.py restore`` into a fresh database and fresh
file directories. The two databases are compared table by table, row by row
(and, on PostgreSQL, sequence by sequence), and the files byte by byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
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


@pytest.fixture(params=ENGINES)
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


def test_backup_and_restore(databases: Databases) -> None:
    """One test per engine, so that parallel test workers never build a source twice."""
    source = databases.new_portal("source")
    source.manage("migrate", "--noinput", "-v", "0")
    source.manage("shell", "--no-imports", "-c", "from tests.backup_data import add; add()")
    archive = databases.root / "portal.tar"
    output = source.manage("backup", str(archive)).stdout
    assert "Backup written" in output
    backup = Backup(source, archive, source.tables(), source.files())

    round_trip_restores_every_row_and_every_file(databases, backup)
    damaged_or_foreign_archives_are_refused_before_anything_changes(databases, backup)


def round_trip_restores_every_row_and_every_file(databases: Databases, backup: Backup) -> None:
    # The data is realistic: every app has rows, both storages have files.
    filled = {name for name, rows in backup.rows.items() if rows and not name.startswith("<")}
    assert {name.split("_", 1)[0] for name in filled} >= PORTAL_APPS
    assert len(filled) >= 30
    assert any(name.startswith("media/") for name in backup.files)
    assert sum(name.startswith("documents/") for name in backup.files) >= 5
    manifest = _manifest(backup.archive)
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


def damaged_or_foreign_archives_are_refused_before_anything_changes(
    databases: Databases, backup: Backup
) -> None:
    """Through the real command: a damaged member of a real archive (more cases below)."""
    target = databases.new_portal("refused")
    copy = databases.root / "damaged.tar"
    _damage(backup.archive, copy, "files/documents/")
    result = target.manage("restore", str(copy), check=False)
    assert result.returncode != 0
    assert "does not match its checksum" in result.stderr
    assert "Traceback" not in result.stderr
    rows = target.tables()
    assert [name for name in rows if not name.startswith("<") and rows[name]] == []
    assert target.files() == {}


def _archive(path: Path, *, engine: str) -> None:
    """A small archive in the backup format (what verification reads; no real database)."""
    members = {
        "database/portal.sqlite3": b"SQLite format 3\x00" + bytes(range(256)) * 8,
        "files/documents/documents/ab/ab12": b"%PDF-1.4 a document",
        "files/default/requests/note.bin": bytes(range(256)),
    }
    entries = {
        name: {"member": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in members.items()
    }
    manifest = {
        "format": "customer-portal-backup",
        "version": 1,
        "created_at": "2026-11-25T03:17:00+00:00",
        "database": {**entries["database/portal.sqlite3"], "engine": engine, "server_version": ""},
        "migrations": [["core", "0001_initial"]],
        "files": [
            {**entry, "storage": name.split("/")[1], "name": name.split("/", 2)[2]}
            for name, entry in entries.items()
            if name.startswith("files/")
        ],
        "missing_files": [],
    }
    with tarfile.open(path, "w") as tar:
        for name, data in [*members.items(), ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_restore_refuses_a_damaged_or_foreign_archive_before_touching_anything(
    tmp_path: Path, document_root: Path
) -> None:
    """In-process and without database access (pytest-django would stop any query):
    every one of these is refused while the archive is read, before anything changes."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    this = connection.vendor
    other = "sqlite" if this == "postgresql" else "postgresql"
    good = tmp_path / "good.tar"
    _archive(good, engine=this)
    manifest = _manifest(good)

    def truncated(copy: Path) -> None:
        copy.write_bytes(good.read_bytes()[: good.stat().st_size // 2])

    def extra_member(copy: Path) -> None:
        shutil.copyfile(good, copy)
        with tarfile.open(copy, "a") as tar:
            info = tarfile.TarInfo("files/documents/unlisted")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))

    def escaping_member(copy: Path) -> None:
        shutil.copyfile(good, copy)
        with tarfile.open(copy, "a") as tar:
            info = tarfile.TarInfo("../../etc/cron.d/evil")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))

    def missing_member(copy: Path) -> None:
        _rewrite_manifest(
            good,
            copy,
            files=[
                *manifest["files"],
                {**manifest["files"][0], "member": "files/documents/gone", "name": "gone"},
            ],
        )

    cases: list[tuple[Callable[[Path], object], str]] = [
        (lambda copy: _damage(good, copy, "files/default/"), "does not match its checksum"),
        (lambda copy: _damage(good, copy, "database/"), "does not match its checksum"),
        (
            truncated,
            "The backup archive is damaged|no manifest.json \\(not a backup, or cut short\\)",
        ),
        (lambda copy: copy.write_bytes(b"not a tar file at all" * 100), "Cannot read"),
        (extra_member, "which its manifest does not list"),
        (escaping_member, "unexpected entry: '../../etc/cron.d/evil'"),
        (missing_member, "The backup is incomplete: 1 member(s) are missing"),
        (lambda copy: _rewrite_manifest(good, copy, version=99), "format version 99"),
        (lambda copy: _rewrite_manifest(good, copy, format="other"), "not a portal backup"),
        (
            lambda copy: _rewrite_manifest(
                good, copy, database={**manifest["database"], "engine": other}
            ),
            f"holds a {other} database, but this portal uses {this}",
        ),
        (
            lambda copy: _rewrite_manifest(
                good, copy, migrations=[["core", "0001_initial"], ["core", "9999_future"]]
            ),
            "made by a newer release: its database has migration core.9999_future",
        ),
    ]
    for number, (make, message) in enumerate(cases):
        copy = tmp_path / f"refused-{number}.tar"
        make(copy)
        pattern = message if "|" in message else re.escape(message)
        with pytest.raises(CommandError, match=pattern):
            call_command("restore", str(copy))
    assert not document_root.exists() or not any(document_root.rglob("*"))


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        manifest: dict[str, Any] = json.loads(handle.read())
        return manifest


def _damage(archive: Path, copy: Path, member_prefix: str) -> None:
    """Flip one byte inside the first member whose name starts with ``member_prefix``."""
    shutil.copyfile(archive, copy)
    with tarfile.open(copy) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(member_prefix))
    with copy.open("r+b") as handle:
        handle.seek(member.offset_data + member.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _rewrite_manifest(archive: Path, copy: Path, **changes: Any) -> None:
    with tarfile.open(archive) as source, tarfile.open(copy, "w") as target:
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            data = handle.read()
            if member.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
