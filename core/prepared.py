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

import hashlib
import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import ProgrammingError
from django.db.backends.utils import CursorWrapper

# PostgreSQL's SQLSTATE for "prepared statement does not exist".
_NO_SUCH_STATEMENT = "26000"


class PreparedStatement:
    def __init__(self, name: str, sql: str, parameter_types: Sequence[str] | None) -> None:
        """``sql`` takes its parameters as ``%s``, one for each of ``parameter_types``.

        ``parameter_types`` None leaves PostgreSQL to infer each from where it stands (as for a
        statement the ORM compiled). ``name`` is what ``pg_stat_activity`` and the query log
        show: one statement per name.
        """
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"{name!r} is not a plain SQL name.")
        pieces = sql.split("%s")
        count = len(pieces) - 1
        if parameter_types is not None and count != len(parameter_types):
            raise ValueError("Give one %s per parameter type.")
        if "%" in sql.replace("%s", ""):
            raise ValueError("A prepared statement takes its parameters as %s and no other %.")
        numbered = "".join(
            piece + (f"${index}" if index < len(pieces) else "")
            for index, piece in enumerate(pieces, start=1)
        )
        self.sql = sql
        self.name = name
        # "name()" is a syntax error: no parentheses when there are no types to give.
        types = f"({', '.join(parameter_types)})" if parameter_types else ""
        self._prepare = f"PREPARE {self.name}{types} AS {numbered}"
        arguments = f"({', '.join(['%s'] * count)})" if count else ""
        self._execute = f"EXECUTE {self.name}{arguments}"
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


# Statements prepared by their text (see execute_by_text), at most this many per process: each
# is prepared on every connection that runs it, and lives as long as the connection.
BY_TEXT_LIMIT = 64
_by_text: dict[str, PreparedStatement | None] = {}
_by_text_lock = threading.Lock()


def execute_by_text(cursor: CursorWrapper, prefix: str, sql: str, params: Sequence[object]) -> None:
    """Run ``sql``, prepared under a name made of ``prefix`` and its text's digest.

    For statements whose text is built per request (the ORM compiles part of them) but takes
    only a few shapes: each shape is planned once per connection. Past ``BY_TEXT_LIMIT``
    distinct texts, and for a text that cannot be prepared (another ``%`` in it), the statement
    simply runs.
    """
    statement = _by_text.get(sql)
    if statement is None and sql not in _by_text:
        with _by_text_lock:
            if sql not in _by_text and len(_by_text) < BY_TEXT_LIMIT:
                digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
                try:
                    _by_text[sql] = PreparedStatement(f"{prefix}_{digest}", sql, None)
                except ValueError:
                    _by_text[sql] = None
            statement = _by_text.get(sql)
    if statement is None:
        cursor.execute(sql, params)
    else:
        statement.execute(cursor, params)
