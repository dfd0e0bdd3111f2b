"""Verified backups: one archive with a consistent database dump, a manifest and the media files.

The archive (an uncompressed tar; the dump and images are compressed already) holds:

- ``manifest.json``: format, vendor, time, applied migrations, rows per table and the sums of
  every ``*_minor`` column per currency (``core.db_inventory``), the dump's SHA-256, and each
  media file's size and SHA-256;
- ``database.dump`` (``pg_dump --format=custom``) or ``database.sqlite3`` (SQLite backup API);
- ``media/<storage alias>/<path>``: the stored bytes of every file, copied as they lie on disk,
  so proofs the storage layer encrypted stay encrypted.

On PostgreSQL the manifest is counted in the very snapshot pg_dump reads (``pg_export_snapshot``
+ ``pg_dump --snapshot``), so the two always agree even while the app keeps writing.

Restore goes only into an empty database. On PostgreSQL the dump and a check of every count and
sum of the manifest run in one ``psql --single-transaction``: a difference rolls the whole restore
back and the database stays empty. Media files are written first and removed again on failure.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from core.db_inventory import (
    NO_CURRENCY,
    Inventory,
    inventory_differences,
    quote,
    table_names,
    take_inventory,
)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DUMP_NAMES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}


class BackupError(Exception):
    """A backup or restore that cannot be done, or a restore that does not match its manifest."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _media_locations(*, include_media: bool) -> dict[str, Path]:
    """Return the directory of every file storage, by storage alias (static files excluded)."""
    if not include_media:
        return {}
    locations: dict[str, Path] = {}
    for alias in settings.STORAGES:
        if alias == "staticfiles":
            continue
        storage = storages[alias]
        # A wrapping storage (the encrypted proof storage) keeps its bytes in ``inner``; those
        # stored bytes, still encrypted, are what a backup copies.
        storage = getattr(storage, "inner", storage)
        if not isinstance(storage, FileSystemStorage):
            raise BackupError(
                f"storage {alias!r} is {type(storage).__name__}, not on this machine's disk: back "
                "the bucket up with its own versioning or replication and run with --no-media."
            )
        location = Path(storage.location).resolve()
        if location not in locations.values():
            locations[alias] = location
    return locations


def _media_files(location: Path) -> Iterator[tuple[str, Path]]:
    if not location.is_dir():
        return
    for path in sorted(location.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(location).as_posix(), path


def _pg_environment(connection: BaseDatabaseWrapper) -> dict[str, str]:
    # libpq reads these; the password never appears on a command line.
    settings_dict = connection.settings_dict
    environment = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        value = settings_dict.get(key)
        if value:
            environment[variable] = str(value)
        else:
            environment.pop(variable, None)
    return environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian package postgresql-client).")
    # A fixed argument list of our own, no shell: nothing a user typed is interpreted.
    result = subprocess.run(  # noqa: S603
        command, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def _dump_postgresql(connection: BaseDatabaseWrapper, target: Path) -> tuple[Inventory, list[str]]:
    if connection.in_atomic_block:
        raise BackupError("Take a backup outside any open transaction.")
    connection.ensure_connection()
    raw = connection.connection
    previous_autocommit = raw.autocommit
    raw.autocommit = False
    try:
        with raw.cursor() as cursor:
            # Repeatable read + an exported snapshot: pg_dump and our counts see the same data.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            inventory = take_inventory(cursor, "postgresql")
            migrations = _applied_migrations(inventory, cursor)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ],
                _pg_environment(connection),
                "pg_dump",
            )
    finally:
        raw.rollback()
        raw.autocommit = previous_autocommit
    return inventory, migrations


def _dump_sqlite(connection: BaseDatabaseWrapper, target: Path) -> tuple[Inventory, list[str]]:
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        # The backup API copies one consistent state; counting the copy keeps the manifest true.
        connection.connection.backup(copy)
        inventory = take_inventory(copy.cursor(), "sqlite")
        return inventory, _applied_migrations(inventory, copy.cursor())
    finally:
        copy.close()


def _applied_migrations(inventory: Inventory, dump_cursor: Any) -> list[str]:
    if "django_migrations" not in inventory:
        return []
    dump_cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    return [f"{app}.{name}" for app, name in dump_cursor.fetchall()]


def backup_create(
    *, output_dir: Path, include_media: bool = True, using: str = "default"
) -> BackupResult:
    """Write one backup archive into ``output_dir`` and return its path and manifest."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in DUMP_NAMES:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    locations = _media_locations(include_media=include_media)
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
    final = output_dir / f"gomflow-backup-{stamp}.tar"
    with tempfile.TemporaryDirectory(prefix="gomflow-backup-") as work:
        dump = Path(work) / DUMP_NAMES[vendor]
        if vendor == "postgresql":
            inventory, migrations = _dump_postgresql(connection, dump)
        else:
            inventory, migrations = _dump_sqlite(connection, dump)
        media: dict[str, dict[str, dict[str, Any]]] = {}
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "created_at": timezone.now().isoformat(),
            "vendor": vendor,
            "database_file": dump.name,
            "database_sha256": _sha256_file(dump),
            "migrations": migrations,
            "tables": inventory,
            "media": media,
        }
        partial = final.with_suffix(".tar.partial")
        try:
            with tarfile.open(partial, "w") as archive:
                archive.add(dump, arcname=dump.name)
                for alias, location in locations.items():
                    media[alias] = {}
                    for name, path in _media_files(location):
                        # Hash what goes into the archive, read once, so a file replaced meanwhile
                        # cannot leave the manifest describing other bytes.
                        data = path.read_bytes()
                        media[alias][name] = {
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                        }
                        info = tarfile.TarInfo(f"media/{alias}/{name}")
                        info.size = len(data)
                        info.mtime = int(path.stat().st_mtime)
                        archive.addfile(info, io.BytesIO(data))
                body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST_NAME)
                info.size = len(body)
                info.mtime = int(timezone.now().timestamp())
                archive.addfile(info, io.BytesIO(body))
            partial.rename(final)
        finally:
            partial.unlink(missing_ok=True)
    return BackupResult(path=final, manifest=manifest)


def _read_archive(archive_path: Path, into: Path) -> dict[str, Any]:
    if not archive_path.is_file():
        raise BackupError(f"{archive_path} does not exist.")
    try:
        with tarfile.open(archive_path, "r") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"{archive_path} is not a readable backup archive: {error}") from error
    try:
        manifest = json.loads((into / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{archive_path} has no readable {MANIFEST_NAME}: {error}") from error
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"Unknown backup format {manifest.get('format_version')!r}.")
    dump = into / manifest["database_file"]
    if not dump.is_file() or _sha256_file(dump) != manifest["database_sha256"]:
        raise BackupError("The database dump in the archive does not match its manifest.")
    for alias, files in manifest["media"].items():
        for name, facts in files.items():
            path = into / "media" / alias / name
            if not path.is_file() or _sha256_file(path) != facts["sha256"]:
                raise BackupError(f"Media file {alias}/{name} in the archive does not match.")
    return manifest


def _verification_sql(inventory: Inventory) -> str:
    """PL/pgSQL that raises on the first count or sum differing from the manifest."""
    # Table and column names come from the manifest's catalogue and are quoted; amounts are ints.
    statements = [
        "DO $check$ DECLARE found bigint; BEGIN "  # noqa: S608
        "found := (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'); "
        f"IF found <> {len(inventory)} THEN RAISE EXCEPTION "
        f"'restore check: % tables, the manifest lists {len(inventory)}', found; END IF; END "
        "$check$;"
    ]
    for table, facts in sorted(inventory.items()):
        name = f"public.{quote(table)}"
        label = table.replace("'", "''")
        checks = [(f"SELECT count(*) FROM {name}", facts["rows"], f"{label} rows")]  # noqa: S608
        for column, per_currency in sorted(facts["sums"].items()):
            for currency, total in sorted(per_currency.items()):
                where = (
                    ""
                    if currency == NO_CURRENCY
                    else " WHERE currency = " + ("'" + currency.replace("'", "''") + "'")
                )
                checks.append(
                    (
                        f"SELECT COALESCE(SUM({quote(column)}), 0) FROM {name}{where}",  # noqa: S608
                        total,
                        f"{label}.{column} {currency}",
                    )
                )
        for query, expected, what in checks:
            statements.append(
                "DO $check$ DECLARE found numeric; BEGIN "
                f"found := ({query}); "
                f"IF found <> {int(expected)} THEN RAISE EXCEPTION "
                f"'restore check: {what} is %, the manifest says {int(expected)}', found; "
                "END IF; END $check$;"
            )
    return "\n".join(statements) + "\n"


def _restore_postgresql(
    connection: BaseDatabaseWrapper, dump: Path, manifest: dict[str, Any], work: Path
) -> None:
    environment = _pg_environment(connection)
    script = work / "restore.sql"
    _run(
        ["pg_restore", "--no-owner", "--no-privileges", f"--file={script}", str(dump)],
        environment,
        "pg_restore",
    )
    checks = work / "verify.sql"
    checks.write_text(_verification_sql(manifest["tables"]))
    _run(
        [
            "psql",
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            f"--file={script}",
            f"--file={checks}",
        ],
        environment,
        "Restoring the database",
    )


def _restore_sqlite(connection: BaseDatabaseWrapper, dump: Path, manifest: dict[str, Any]) -> None:
    source = sqlite3.connect(dump)
    try:
        differences = inventory_differences(
            manifest["tables"], take_inventory(source.cursor(), "sqlite")
        )
        if differences:
            raise BackupError(
                "The SQLite copy differs from its manifest: " + "; ".join(differences)
            )
        connection.ensure_connection()
        source.backup(connection.connection)
    finally:
        source.close()


@contextlib.contextmanager
def _media_written(
    manifest: dict[str, Any], extracted: Path, locations: dict[str, Path]
) -> Iterator[None]:
    """Copy the archive's media into place; remove what was written when the block fails."""
    written: list[Path] = []
    try:
        for alias, files in manifest["media"].items():
            if alias not in locations:
                raise BackupError(
                    f"The archive holds files of storage {alias!r}, which is not configured."
                )
            for name, facts in files.items():
                target = locations[alias] / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(extracted / "media" / alias / name, target)
                written.append(target)
                if _sha256_file(target) != facts["sha256"]:
                    raise BackupError(f"Media file {alias}/{name} was not written intact.")
        yield
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def backup_restore(*, archive_path: Path, using: str = "default") -> dict[str, Any]:
    """Restore an archive into the empty database ``using``; verify it; return the manifest."""
    connection = connections[using]
    with tempfile.TemporaryDirectory(prefix="gomflow-restore-") as work_name:
        work = Path(work_name)
        manifest = _read_archive(archive_path, work / "archive")
        if manifest["vendor"] != connection.vendor:
            raise BackupError(
                f"This is a {manifest['vendor']} backup; "
                f"the target database is {connection.vendor}."
            )
        with connection.cursor() as cursor:
            existing = table_names(cursor, connection.vendor)
        if existing:
            raise BackupError(
                f"The database {connection.settings_dict['NAME']} is not empty ({len(existing)} "
                f"tables, e.g. {', '.join(existing[:3])}). Restore only into an empty database: "
                "create a new one and point DATABASE_URL at it."
            )
        locations = _media_locations(include_media=bool(manifest["media"]))
        clashes = [
            f"{alias}/{name}"
            for alias, files in manifest["media"].items()
            for name in files
            if alias in locations and (locations[alias] / name).exists()
        ]
        if clashes:
            raise BackupError(
                f"{len(clashes)} media files already exist in the target storage "
                f"(e.g. {clashes[0]}); restore into an empty media directory."
            )
        dump = work / "archive" / manifest["database_file"]
        with _media_written(manifest, work / "archive", locations):
            if connection.vendor == "postgresql":
                connection.close()
                _restore_postgresql(connection, dump, manifest, work)
            else:
                _restore_sqlite(connection, dump, manifest)
        differences = backup_verify(manifest=manifest, using=using)
        if differences:
            raise BackupError(
                "The restored database differs from the manifest: " + "; ".join(differences)
            )
    return manifest


def backup_verify(*, manifest: dict[str, Any], using: str = "default") -> list[str]:
    """Compare the database ``using`` and the media storages with a manifest; list differences."""
    connection = connections[using]
    with connection.cursor() as cursor:
        differences = inventory_differences(
            manifest["tables"], take_inventory(cursor, connection.vendor)
        )
    locations = _media_locations(include_media=bool(manifest["media"]))
    for alias, files in manifest["media"].items():
        for name, facts in files.items():
            path = locations[alias] / name
            if not path.is_file():
                differences.append(f"media file {alias}/{name} is missing")
            elif _sha256_file(path) != facts["sha256"]:
                differences.append(f"media file {alias}/{name} differs")
    return differences
