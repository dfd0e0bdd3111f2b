"""Reading the earlier GOMFLOW database: one consistent, read-only snapshot of its tables."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

LEGACY_TABLES = (
    "users",
    "orders",
    "submissions",
    "payment_transactions",
    "payment_methods",
    "payment_proofs",
)

SourceData = dict[str, list[dict[str, Any]]]


class LegacySourceError(Exception):
    """The source database cannot be read."""


def redact(dsn: str) -> str:
    """The source address without its password, fit for reports and the batch record."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _clean(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        # The earlier platform stored UTC in `timestamp without time zone` columns.
        return value.replace(tzinfo=UTC)
    return value


def _order_key(row: dict[str, Any]) -> tuple[str, str]:
    created = row.get("created_at")
    return (created.isoformat() if isinstance(created, datetime) else "", str(row.get("id")))


def read_source(dsn: str) -> SourceData:
    """Read every legacy table that exists, oldest row first; missing tables read as empty."""
    try:
        connection = psycopg.connect(dsn, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as error:
        raise LegacySourceError(f"Cannot connect to {redact(dsn)}: {error}") from error
    data: SourceData = {}
    try:
        # One snapshot for all tables: rows added meanwhile cannot half-appear.
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for table in LEGACY_TABLES:
            found = connection.execute("SELECT to_regclass(%s) AS found", [f"public.{table}"])
            if found.fetchone()["found"] is None:  # type: ignore[index]
                data[table] = []
                continue
            cursor = connection.execute(
                sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(table))
            )
            rows = [{key: _clean(value) for key, value in row.items()} for row in cursor]
            data[table] = sorted(rows, key=_order_key)
    except psycopg.Error as error:
        raise LegacySourceError(f"Cannot read {redact(dsn)}: {error}") from error
    finally:
        connection.close()
    for order in data["orders"]:
        methods = order.get("payment_methods")
        if isinstance(methods, str):
            # Some rows hold the JSON array double-encoded as a string.
            try:
                order["payment_methods"] = json.loads(methods)
            except ValueError:
                order["payment_methods"] = methods
    return data
