"""Quoted table and column names from the models, for the few statements written by hand.

Hand-written SQL here is for hot paths (the verification queue, the buyer's order page); its
names come from the models so a renamed field or table cannot leave a statement behind.
"""

from typing import Any

from django.db import connection


def table(model: Any, alias: str = "") -> str:
    """``"app_model"``, or ``"app_model" alias`` for a FROM or JOIN clause."""
    name = connection.ops.quote_name(model._meta.db_table)
    return f"{name} {alias}" if alias else name


def column(model: Any, field: str, alias: str = "") -> str:
    """The quoted column of ``model.field`` (a foreign key's ``…_id``), after ``alias.``."""
    name = connection.ops.quote_name(model._meta.get_field(field).column)
    return f"{alias}.{name}" if alias else name
