"""Consistent backups of the database and the stored files, and their restore.

One archive (an uncompressed tar) holds:

- ``database/portal.sqlite3`` (SQLite's online backup API: one consistent copy
  taken while the portal runs) or ``database/portal.pgdump`` (``pg_dump
  --format=custom`` run on a snapshot exported from a REPEATABLE READ
  transaction, the same snapshot the list of referenced files is read from);
- ``files/<storage>/<name>`` for every file in the storages the portal writes
  to (``default``: request attachments; ``documents``: documents), read through
  Django's storage API, so local directories and S3 buckets alike;
- ``manifest.json``, written last: the format and its version, the database
  engine, the applied migrations, and the size and SHA-256 of every member.

A restore reads the whole archive and checks every member against the
manifest before it changes anything, refuses a database or storage that is not
empty unless forced, writes the files, then loads the database in a single
transaction; if that fails, the files it wrote are removed again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

FORMAT = "customer-portal-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
# The storages the portal writes user data to; static files are rebuilt by collectstatic.
SKIPPED_STORAGES = {"staticfiles"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


# --- helpers -----------------------------------------------------------------------


def backed_up_storages() -> list[str]:
    return [alias for alias in settings.STORAGES if alias not in SKIPPED_STORAGES]


def walk_storage(storage: Storage, path: str = "") -> Iterator[str]:
    """Every file name in ``storage``, recursively, in a stable order."""
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{path}/{name}" if path else name
    for directory in sorted(directories):
        yield from walk_storage(storage, f"{path}/{directory}" if path else directory)


def _engine() -> str:
    vendor = connections["default"].vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and "\\" not in name
        and "\x00" not in name
    )


def _referenced_files_sql() -> list[tuple[str, str]]:
    """(storage alias, SQL) pairs that list the file names the database refers to."""
    queries: list[tuple[str, str]] = []
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.FileField):
                column = model_field.column
                table = model._meta.db_table
                queries.append(
                    (
                        "default",
                        f'SELECT "{column}" FROM "{table}" WHERE "{column}" <> \'\'',  # noqa: S608 - our own table names
                    )
                )
    version = apps.get_model("documents", "DocumentVersion")
    queries.append(
        ("documents", f'SELECT "storage_key" FROM "{version._meta.db_table}"')  # noqa: S608
    )
    return queries


class _HashingReader(io.RawIOBase):
    """Reads from ``source`` and hashes what it hands on."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- PostgreSQL tools ----------------------------------------------------------------


def _pg_major(binary: Path) -> int | None:
    try:
        output = subprocess.run(  # noqa: S603 - a PostgreSQL client binary
            [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\s(\d+)(?:\.\d+)*", output)
    return int(match.group(1)) if match else None


def pg_bindir(server_major: int) -> Path:
    """A directory with pg_dump, pg_restore and psql at least as new as the server."""
    candidates: list[Path] = []
    if configured := os.environ.get("PORTAL_PG_BINDIR", "").strip():
        candidates.append(Path(configured))
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin"))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    if on_path := shutil.which("pg_dump"):
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        tools = [directory / name for name in ("pg_dump", "pg_restore", "psql")]
        if all(tool.exists() for tool in tools):
            major = _pg_major(tools[0])
            if major is not None and major >= server_major:
                return directory
    raise BackupError(
        f"No pg_dump/pg_restore/psql of version {server_major} or newer found (looked in "
        "PORTAL_PG_BINDIR, /usr/lib/postgresql/*/bin and PATH). Install the PostgreSQL "
        "client of the server's version, e.g. apt-get install postgresql-client."
    )


def _pg_environment() -> dict[str, str]:
    db = connections["default"].settings_dict
    env = dict(os.environ)
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[name] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])  # the environment, never the command line
    env["PGDATABASE"] = str(db["NAME"])
    options = db.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return env


def _pg_server_major() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def _run(argv: list[str], *, env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{what} failed: " + " / ".join(detail))


# --- backup ------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    engine: str
    files: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


@dataclass
class _Snapshot:
    database: Path
    migrations: list[list[str]]
    referenced: dict[str, set[str]]
    server_version: str = ""


def _read_snapshot_details(
    execute: Callable[[str], Iterable[tuple[Any, ...]]],
) -> tuple[list[list[str]], dict[str, set[str]]]:
    migrations = sorted([str(app), str(name)] for app, name in execute(
        'SELECT "app", "name" FROM "django_migrations"'
    ))  # fmt: skip
    referenced: dict[str, set[str]] = {}
    for alias, sql in _referenced_files_sql():
        referenced.setdefault(alias, set()).update(str(row[0]) for row in execute(sql))
    return migrations, referenced


def _snapshot_sqlite(workdir: Path) -> _Snapshot:
    source_path = str(connections["default"].settings_dict["NAME"])
    if not Path(source_path).exists():
        raise BackupError(f"The database {source_path} does not exist.")
    target = workdir / "portal.sqlite3"
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step: a consistent copy even while the portal writes.
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
        migrations, referenced = _read_snapshot_details(lambda sql: copy.execute(sql).fetchall())
    finally:
        copy.close()
        source.close()
    return _Snapshot(target, migrations, referenced)


def _snapshot_postgres(workdir: Path) -> _Snapshot:
    major = _pg_server_major()
    bindir = pg_bindir(major)
    target = workdir / "portal.pgdump"
    connection = connections["default"]
    with transaction.atomic(using="default"), connection.cursor() as cursor:
        # pg_dump reads the very snapshot this transaction sees, as do the queries below.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        snapshot, server_version = cursor.fetchone()
        _run(
            [str(bindir / "pg_dump"), "--format=custom", f"--snapshot={snapshot}",
             "--no-owner", "--no-privileges", f"--file={target}"],
            env=_pg_environment(), what="pg_dump",
        )  # fmt: skip

        def execute(sql: str) -> list[tuple[Any, ...]]:
            cursor.execute(sql)
            return list(cursor.fetchall())

        migrations, referenced = _read_snapshot_details(execute)
    return _Snapshot(target, migrations, referenced, str(server_version))


def _add_file(archive: tarfile.TarFile, member: str, path: Path) -> dict[str, Any]:
    info = tarfile.TarInfo(member)
    info.size = path.stat().st_size
    info.mtime = int(timezone.now().timestamp())
    info.mode = 0o600
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        archive.addfile(info, reader)
    return {"member": member, "size": reader.size, "sha256": reader.digest.hexdigest()}


def backup_create(
    *, destination: Path, log: Callable[[str], None] = lambda _: None
) -> BackupResult:
    """Write one archive of the database and the stored files to ``destination``.

    ``destination`` is the archive's path, or an existing directory to put a
    time-stamped archive into. The archive appears under its name only when it
    is complete.
    """
    engine = _engine()
    if destination.is_dir():
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        destination = destination / f"portal-backup-{stamp}.tar"
    if destination.exists():
        raise BackupError(f"{destination} exists already; choose another name.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    result = BackupResult(path=destination, engine=engine)
    partial = destination.with_name(destination.name + ".partial")
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".portal-backup-") as tmp:
        workdir = Path(tmp)
        snapshot = (_snapshot_sqlite if engine == "sqlite" else _snapshot_postgres)(workdir)
        log(f"Database copied ({engine}).")
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
                database = _add_file(
                    archive, f"database/{snapshot.database.name}", snapshot.database
                )
                snapshot.database.unlink()
                files: list[dict[str, Any]] = []
                for alias in backed_up_storages():
                    storage = storages[alias]
                    present: set[str] = set()
                    for name in walk_storage(storage):
                        info = tarfile.TarInfo(f"files/{alias}/{name}")
                        info.size = storage.size(name)
                        info.mode = 0o600
                        info.mtime = int(timezone.now().timestamp())
                        with storage.open(name, "rb") as handle:
                            reader = _HashingReader(handle)
                            archive.addfile(info, reader)
                        files.append(
                            {"storage": alias, "name": name, "member": info.name,
                             "size": reader.size, "sha256": reader.digest.hexdigest()}
                        )  # fmt: skip
                        present.add(name)
                        result.bytes += reader.size
                    # Referenced but gone: deleted (e.g. purged) after the snapshot was taken.
                    result.missing += [
                        f"{alias}:{name}"
                        for name in sorted(snapshot.referenced.get(alias, set()) - present)
                    ]
                result.files = len(files)
                manifest = {
                    "format": FORMAT,
                    "version": FORMAT_VERSION,
                    "created_at": timezone.now().isoformat(),
                    "database": {**database, "engine": engine,
                                 "server_version": snapshot.server_version},
                    "migrations": snapshot.migrations,
                    "files": files,
                    "missing_files": result.missing,
                }  # fmt: skip
                data = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode = len(data), 0o600
                info.mtime = int(timezone.now().timestamp())
                archive.addfile(info, io.BytesIO(data))
            partial.chmod(0o600)
            os.replace(partial, destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return result


# --- restore -------------------------------------------------------------------------


@dataclass
class RestoreResult:
    engine: str
    files: int
    migrations_behind: int


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.getmember(MANIFEST)
        handle = archive.extractfile(member)
        if handle is None:
            raise KeyError(MANIFEST)
        manifest = json.loads(handle.read())
    except KeyError as exc:
        raise BackupError(
            "This is not a complete portal backup: the archive has no manifest.json "
            "(not a backup, or cut short)."
        ) from exc
    except ValueError as exc:
        raise BackupError(f"The backup's manifest.json is damaged: {exc}.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("This is not a portal backup: its manifest names another format.")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"This backup has format version {manifest.get('version')!r}; this release reads "
            f"version {FORMAT_VERSION} only."
        )
    return manifest


def backup_verify(*, archive_path: Path) -> dict[str, Any]:
    """Check every member of the archive against its manifest; returns the manifest."""
    try:
        archive = tarfile.open(archive_path, "r:")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"Cannot read {archive_path} as a backup archive: {exc}.") from exc
    with archive:
        try:
            manifest = _read_manifest(archive)
            expected = {manifest["database"]["member"]: manifest["database"]}
            for entry in manifest["files"]:
                expected[entry["member"]] = entry
            seen: set[str] = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if not _safe_member(member.name) or not member.isfile():
                    raise BackupError(f"The backup holds an unexpected entry: {member.name!r}.")
                entry = expected.get(member.name)
                if entry is None or member.name in seen:
                    raise BackupError(
                        f"The backup holds {member.name!r}, which its manifest does not list."
                    )
                seen.add(member.name)
                handle = _member(archive, member.name)
                digest, size = hashlib.sha256(), 0
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
                    raise BackupError(
                        f"The backup is damaged: {member.name} does not match its checksum."
                    )
            if absent := sorted(set(expected) - seen):
                raise BackupError(
                    f"The backup is incomplete: {len(absent)} member(s) are missing, "
                    f"e.g. {absent[0]}."
                )
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"The backup archive is damaged: {exc}.") from exc
        except (KeyError, TypeError) as exc:
            raise BackupError(f"The backup's manifest is incomplete: {exc}.") from exc
    return manifest


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise BackupError(f"The backup entry {name} is not a file.")
    return handle


def _database_is_empty() -> bool:
    return not connections["default"].introspection.table_names()


def _storage_files(alias: str) -> list[str]:
    return list(walk_storage(storages[alias]))


def _check_migrations(manifest: dict[str, Any]) -> int:
    """Refuse a backup made by a newer release; returns how many migrations it lacks."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = {(app, name) for app, name in loader.disk_migrations}
    applied = {(app, name) for app, name in manifest["migrations"]}
    unknown = sorted(applied - known)
    if unknown:
        app, name = unknown[0]
        raise BackupError(
            f"The backup was made by a newer release: its database has migration {app}.{name}, "
            "which this release does not know. Restore it with that release or a newer one."
        )
    return len(known - applied)


def backup_restore(
    *, archive_path: Path, force: bool = False, log: Callable[[str], None] = lambda _: None
) -> RestoreResult:
    """Restore an archive into this portal's (empty) database and storages."""
    manifest = backup_verify(archive_path=archive_path)
    log(f"Archive verified: {len(manifest['files'])} file(s) and the database match the manifest.")
    engine = _engine()
    if manifest["database"]["engine"] != engine:
        raise BackupError(
            f"The backup holds a {manifest['database']['engine']} database, but this portal "
            f"uses {engine}. Restore it into a portal configured for the same database engine."
        )
    behind = _check_migrations(manifest)
    unknown_storages = {entry["storage"] for entry in manifest["files"]} - set(settings.STORAGES)
    if unknown_storages:
        raise BackupError(
            f"The backup holds files of storage {sorted(unknown_storages)[0]!r}, which this "
            "portal does not configure."
        )
    if not force:
        if not _database_is_empty():
            raise BackupError(
                "The database is not empty. Restore into an empty database, or pass --force to "
                "replace everything in it (stop the portal first)."
            )
        for alias in backed_up_storages():
            if _storage_files(alias):
                raise BackupError(
                    f"The storage {alias!r} is not empty. Restore into empty storage, or pass "
                    "--force to replace its files with the backup's."
                )
    written: list[tuple[str, str]] = []
    with tarfile.open(archive_path, "r:") as archive:
        try:
            for entry in manifest["files"]:
                storage = storages[entry["storage"]]
                handle = _member(archive, entry["member"])
                if storage.exists(entry["name"]):
                    storage.delete(entry["name"])
                saved = storage.save(entry["name"], File(handle))
                written.append((entry["storage"], saved))
                if saved != entry["name"]:
                    raise BackupError(
                        f"The storage {entry['storage']!r} stored {entry['name']} as {saved}."
                    )
            log(f"Files restored: {len(written)}.")
            with tempfile.TemporaryDirectory(prefix=".portal-restore-") as tmp:
                database = Path(tmp) / PurePosixPath(manifest["database"]["member"]).name
                source = _member(archive, manifest["database"]["member"])
                with database.open("wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                if engine == "sqlite":
                    _restore_sqlite(database)
                else:
                    _restore_postgres(database, force=force)
        except BaseException:
            if not force:
                # Nothing was there before: take back what this run wrote.
                for alias, name in written:
                    storages[alias].delete(name)
            raise
    log("Database restored.")
    if force:
        # The backup's state, exactly: files it does not hold go.
        keep = {(entry["storage"], entry["name"]) for entry in manifest["files"]}
        for alias in backed_up_storages():
            for name in _storage_files(alias):
                if (alias, name) not in keep:
                    storages[alias].delete(name)
    # Cached pages, sessions and counters belong to the database that was replaced.
    caches["default"].clear()
    return RestoreResult(engine=engine, files=len(written), migrations_behind=behind)


def _restore_sqlite(database: Path) -> None:
    check = sqlite3.connect(database)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        raise BackupError(f"The backed-up SQLite database fails its integrity check: {result}.")
    target = Path(str(connections["default"].settings_dict["NAME"]))
    connections.close_all()
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(database, staged)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)  # atomic: the old database or the new one, never half


def _restore_postgres(database: Path, *, force: bool) -> None:
    bindir = pg_bindir(_pg_server_major())
    connections.close_all()
    env = _pg_environment()
    script = database.with_suffix(".sql")
    _run(
        [str(bindir / "pg_restore"), "--no-owner", "--no-privileges", f"--file={script}",
         str(database)],
        env=env, what="pg_restore",
    )  # fmt: skip
    argv = [str(bindir / "psql"), "-X", "-q", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
            "--single-transaction"]  # fmt: skip
    if force:
        # In the same transaction as the load: all of it is replaced, or nothing.
        argv += ["-c", "DROP SCHEMA public CASCADE", "-c", "CREATE SCHEMA public"]
    argv += ["-f", str(script)]
    _run(argv, env=env, what="Loading the database (psql)")
