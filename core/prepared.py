"""Statements PostgreSQL plans once per connection and afterwards only executes.

For the few statements run on nearly every request, planning costs the database more CPU than
running them (the order page's fingerprint: ~0.27 ms to plan, ~0.05 ms to run). Django binds
parameters on the client and psycopg's own prepared statements are off under Django, so these
use SQL's ``PREPARE`` and ``EXECUTE``.

The ``EXECUTE`` goes through Django's cursor (counted and logged like any query); the
``PREPARE``, like Django's own connection set-up, runs on the raw connection once per
connection, so a test's query count does not depend on which test used the connection first.
Prepared statements outlive transactions and rollbacks; they end with the connection.
Elsewhere than on PostgreSQL (the SQLite of ``make run``) the statement runs as it is.
"""

import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import ProgrammingError
from django.db.backends.utils import CursorWrapper

# PostgreSQL's SQLSTATE for "prepared statement does not exist".
_NO_SUCH_STATEMENT = "26000"


class PreparedStatement:
    def __init__(self, name: str, sql: str, parameter_types: Sequence[str]) -> None:
        """``sql`` takes its parameters as ``%s``, one for each of ``parameter_types``.

        ``name`` is what ``pg_stat_activity`` and the query log show: one statement per name.
        """
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"{name!r} is not a plain SQL name.")
        pieces = sql.split("%s")
        if len(pieces) - 1 != len(parameter_types) or "%" in sql.replace("%s", ""):
            raise ValueError("Give one %s per parameter type and no other %.")
        numbered = "".join(
            piece + (f"${index}" if index < len(pieces) else "")
            for index, piece in enumerate(pieces, start=1)
        )
        self.sql = sql
        self.name = name
        self._prepare = f"PREPARE {self.name}({', '.join(parameter_types)}) AS {numbered}"
        self._execute = f"EXECUTE {self.name}({', '.join(['%s'] * len(parameter_types))})"
        # The psycopg connections this statement is prepared on (a new connection is a new key).
        self._prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()

    def execute(self, cursor: CursorWrapper, params: Sequence[object]) -> None:
        """Run the statement on ``cursor`` (a Django cursor), preparing it first if needed."""
        database = cursor.db
        if database.vendor != "postgresql":
            cursor.execute(self.sql, params)
            return
        raw = database.connection
        if raw not in self._prepared_on:
            self._prepare_on(raw)
        try:
            cursor.execute(self._execute, params)
        except ProgrammingError as error:
            if getattr(error.__cause__, "sqlstate", None) != _NO_SUCH_STATEMENT:
                raise
            # Something dropped it (DEALLOCATE ALL, or a pooler's DISCARD ALL). In autocommit
            # the failed EXECUTE left nothing behind, so prepare it again; inside a transaction
            # the transaction is aborted and the error must reach the caller.
            self._prepared_on.discard(raw)
            if not database.get_autocommit():
                raise
            self._prepare_on(raw)
            cursor.execute(self._execute, params)

    def _prepare_on(self, raw: Any) -> None:
        with raw.cursor() as prepare:
            prepare.execute(self._prepare)
        self._prepared_on.add(raw)
