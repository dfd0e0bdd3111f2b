"""Update many rows, each with its own values, in one statement.

Django's ``bulk_update`` writes ``SET col = CASE WHEN id = 1 THEN … WHEN id = 2 THEN …`` and
builds an expression object for every row of every column: for a batch of 200 approvals that tree
cost more to compile than the database took to run everything else. On PostgreSQL an
``UPDATE … FROM (VALUES …)`` says the same with one placeholder per value.
"""

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def bulk_update_rows(objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of every object (all of one model) to its row; return the rows updated.

    Elsewhere than on PostgreSQL (the SQLite of ``make run``) this is Django's ``bulk_update``.
    """
    if not objs:
        return 0
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(objs, fields)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    # Every placeholder carries its column's type: a NULL or a small int in the first row would
    # otherwise decide the type of the whole VALUES column.
    row = "(" + ", ".join(f"%s::{column.db_type(connection)}" for column in columns) + ")"
    params: list[object] = []
    for obj in objs:
        params += [
            column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns
        ]
    names = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(
        f"{quote(column.column)} = v.{quote(column.column)}" for column in columns[1:]
    )
    pk = quote(meta.pk.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments}"  # noqa: S608 (names from the model)
        f" FROM (VALUES {', '.join([row] * len(objs))}) AS v({names})"
        f" WHERE t.{pk} = v.{pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
