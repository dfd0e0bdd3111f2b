"""Throw-away PostgreSQL databases beside the test database, and `manage.py` run against them."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from core.db_inventory import Inventory, quote, table_names, take_inventory

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _server_url(database: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{database}"))


def current_database_url() -> str:
    """The URL of the database this test process uses (pytest-django's ``test_…`` one)."""
    from django.db import connection

    return _server_url(connection.settings_dict["NAME"])


def _prefix() -> str:
    # Every throw-away name starts with the configured database name (gomflow_safety_…).
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


@contextmanager
def throwaway_database(purpose: str) -> Iterator[str]:
    """Create an empty database; yield its URL; drop it (even when the test failed)."""
    name = f"{_prefix()}_{purpose}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def manage(
    *arguments: str,
    database_url: str,
    media_root: Path | None = None,
    proof_root: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a child process against ``database_url``; return its result."""
    environment = dict(os.environ, DATABASE_URL=database_url)
    if media_root is not None:
        environment["MEDIA_ROOT"] = str(media_root)
    if proof_root is not None:
        environment["PROOF_STORAGE_ROOT"] = str(proof_root)
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(arguments)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def inventory_of(database_url: str) -> Inventory:
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        return take_inventory(cursor, "postgresql")


def _comparable(value: Any, *, milliseconds: bool) -> Any:
    # The two sides may use different session time zones; compare instants, not their spelling.
    if isinstance(value, datetime):
        if milliseconds:
            value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def rows_of(
    cursor: Any,
    vendor: str = "postgresql",
    *,
    skip: frozenset[str] = frozenset(),
    milliseconds: bool = False,
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, for row-for-row comparisons of small databases."""
    content: dict[str, list[tuple[Any, ...]]] = {}
    for table in table_names(cursor, vendor):
        if table in skip:
            continue
        cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
        rows = [
            tuple(_comparable(value, milliseconds=milliseconds) for value in row)
            for row in cursor.fetchall()
        ]
        content[table] = sorted(rows, key=repr)
    return content


def rows_at(
    database_url: str, *, skip: frozenset[str] = frozenset(), milliseconds: bool = False
) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        return rows_of(cursor, skip=skip, milliseconds=milliseconds)
