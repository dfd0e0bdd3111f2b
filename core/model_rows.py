"""Whole model rows in hand-written statements, read and written exactly as the ORM would.

For the few hot paths that write their own SQL (the signed-in user's row, the money API's plain
cases in ``payments.money.keyed_*``): a model's SELECT list and the instance built from such a
row; instances inserted as ``save()`` would insert them; and the copy of a changed row into its
django-simple-history table.

Inserted rows travel as one JSON parameter per table, typed by the table's own row type
(``jsonb_populate_recordset``), not as one parameter per value: psycopg re-parses every
statement of more than 50 parameters on each call (its cache stops there), which cost the
apply-credit write, 88 values, 0.25 ms a request.
"""

import datetime
import decimal
import functools
import ipaddress
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from psycopg.types.json import Jsonb
from simple_history.models import HistoricalRecords

from core.sql_names import column, table


def row_columns(model: type[Model], alias: str) -> str:
    """The SELECT list of a whole ``model`` row from ``alias``, in ``from_row``'s order."""
    return ", ".join(column(model, field.name, alias) for field in model._meta.concrete_fields)


def from_row(model: type[Model], row: Sequence[Any], using: str = DEFAULT_DB_ALIAS) -> Any:
    """The ``model`` instance whose ``row_columns`` are ``row``, as the ORM would load it (with
    the fields' own conversions, e.g. a JSON field's text parsed)."""
    fields = model._meta.concrete_fields
    values = [
        field.from_db_value(value, None, connections[using])
        if hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, row, strict=True)
    ]
    return model.from_db(using, [field.attname for field in fields], values)


# The columns django-simple-history adds to a historical table (the rest copy the model's).
_HISTORY_COLUMNS = ("history_id", "history_date", "history_change_reason", "history_type")


@functools.cache
def _insert_fields(model: type[Model], with_pk: bool) -> list[Any]:
    return [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]


@functools.cache
def insert_rows_sql(model: type[Model], *, with_pk: bool) -> str:
    """``INSERT`` into ``model``'s table the rows of one ``rows_json`` parameter (``%s``).

    ``with_pk`` False leaves the primary key to the database (an identity column)."""
    columns = ", ".join(
        connection.ops.quote_name(field.column) for field in _insert_fields(model, with_pk)
    )
    name = table(model)
    return (
        f"INSERT INTO {name} ({columns}) SELECT {columns}"  # noqa: S608 (names from the models)
        f" FROM jsonb_populate_recordset(NULL::{name}, %s)"
    )


def rows_json(instances: Sequence[Model], *, with_pk: bool) -> Jsonb:
    """``instances`` (of one model) as ``save()`` would insert them, defaults and
    ``auto_now_add`` applied by the fields themselves: the parameter of ``insert_rows_sql``."""
    rows = []
    for instance in instances:
        database = connections[instance._state.db or DEFAULT_DB_ALIAS]
        rows.append(
            {
                field.column: field.get_db_prep_save(field.pre_save(instance, True), database)
                for field in _insert_fields(type(instance), with_pk)
            }
        )
    return Jsonb(rows, dumps=_dumps)


def _json_value(value: Any) -> Any:
    """A database value that JSON has no type for, as text PostgreSQL reads back exactly."""
    if isinstance(value, Jsonb):  # a JSON field's value, encoded by the field's own encoder
        return value.obj if value.dumps is json.dumps else json.loads(value.dumps(value.obj))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(
        value, decimal.Decimal | uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address
    ):
        return str(value)
    raise TypeError(f"No JSON form for {type(value).__name__} in a row.")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_value)


@functools.cache
def history_copy_sql(model: type[Model], source: str) -> str:
    """``INSERT`` into ``model``'s history table a copy of each row of ``source`` (a CTE holding
    ``model``'s rows, e.g. from ``RETURNING *``). Parameters: history date, type, user id."""
    history = model.history.model  # type: ignore[attr-defined]
    quote = connection.ops.quote_name
    copied = [
        quote(field.column)
        for field in history._meta.concrete_fields
        if field.column not in _HISTORY_COLUMNS and field.column != "history_user_id"
    ]
    columns = ", ".join(copied)
    return (
        f"INSERT INTO {table(history)} ({columns}, history_date, history_change_reason,"  # noqa: S608 (names from the models)
        f" history_type, history_user_id) SELECT {columns}, %s, NULL, %s, %s FROM {source}"
    )


def history_user_id() -> int | None:
    """Who django-simple-history records as the author of a change in this request."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None
