"""Whole model rows in hand-written statements, read and written exactly as the ORM would.

For the few hot paths that write their own SQL (the signed-in user's row, the money API's plain
cases in ``payments.money.keyed_*``): a model's SELECT list and the instance built from such a
row; the columns and values of an instance as ``save()`` would insert them; and the copy of a
changed row into its django-simple-history table.
"""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
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
def _insert_fields(model: type[Model], with_pk: bool) -> tuple[list[Any], list[str]]:
    fields = [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]
    return fields, [connection.ops.quote_name(field.column) for field in fields]


def insert_values(instance: Model, *, with_pk: bool) -> tuple[list[str], list[Any]]:
    """Return the quoted columns and the parameters that insert ``instance`` as ``save()``
    would: defaults and ``auto_now_add`` applied by the fields themselves. ``with_pk`` False
    leaves the primary key to the database (an identity column)."""
    fields, names = _insert_fields(type(instance), with_pk)
    database = connections[instance._state.db or DEFAULT_DB_ALIAS]
    params = [field.get_db_prep_save(field.pre_save(instance, True), database) for field in fields]
    return names, params


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
