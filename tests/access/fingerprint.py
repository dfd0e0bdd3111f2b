"""Which tables a request wrote to, from PostgreSQL's own counters, to prove it changed nothing.

``pg_stat_xact_user_tables`` counts the rows inserted, updated and deleted by the current
transaction, statement by statement. The matrix runs inside one transaction (the world's), so
the counters before and after a request say exactly which tables it wrote, even an UPDATE that
put back the same values, at the cost of one small query instead of hashing every table.
"""

from django.db import connection

# Tables a request may write without changing anything anyone owns: the session (a message
# for the next page, a logout) and django-axes' login records.
UNWATCHED_PREFIXES = ("django_session", "axes_")

Writes = dict[str, tuple[int, int, int]]


def writes() -> Writes:
    """Return (inserted, updated, deleted) rows per table so far in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables"
        )
        return {
            name: (inserted, updated, deleted)
            for name, inserted, updated, deleted in cursor.fetchall()
            if not name.startswith(UNWATCHED_PREFIXES)
        }


def written_tables(before: Writes, after: Writes) -> list[str]:
    return sorted(table for table, counts in after.items() if before.get(table) != counts)
