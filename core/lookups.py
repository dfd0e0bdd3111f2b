"""Lookups the ORM lacks."""

from typing import Any

from django.db.models import Lookup


class AnyOf(Lookup):
    """``field = ANY(%s)`` with the values as one array parameter on PostgreSQL; ``IN`` elsewhere.

    The statement's text is then the same whatever the number of values, so that it can be
    prepared once (``core.prepared.execute_by_text``). Used as an expression:
    ``queryset.filter(AnyOf(F("group_order_id"), ids))``.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return list(self.rhs)  # the left side may be an F() not yet resolved: see as_sql

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs]
        if connection.vendor == "postgresql":
            # Typed as the column: a list of small numbers would travel as smallint[], and
            # PostgreSQL then chose a parallel scan for the queue's search (5x slower).
            return f"{lhs} = ANY(%s::{field.db_type(connection)}[])", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
