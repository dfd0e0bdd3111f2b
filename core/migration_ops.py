"""Migration operations the project's migrations share: dropping indexes that duplicate others.

A foreign key that leads a composite index needs no index of its own, and a unique or indexed
key column needs no second, ``varchar_pattern_ops`` copy of its index (Django builds one for
LIKE 'prefix%' searches; nothing here searches keys that way). Every row written pays for both.

Both operations only drop an index: a brief lock, no scan (docs/migrations.md). A foreign key's
``db_index=False`` is a state change here: left to Django, altering it would drop and re-add the
foreign key constraint, which validates every row, and would keep the index anyway. Going back
rebuilds a foreign key's index; a LIKE copy stays gone.
"""

from django.db import migrations, models


def foreign_key_without_index(
    model_name: str, name: str, field: models.ForeignKey, *, index: str, table: str, column: str
) -> migrations.SeparateDatabaseAndState:
    """``AlterField`` to ``field`` (with ``db_index=False``), dropping the index by its name."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
    )


def drop_like_copy(index: str) -> migrations.RunSQL:
    """Drop a column's LIKE copy of its index (``…_like``); nothing to rebuild going back."""
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"', migrations.RunSQL.noop)
