"""Audit events: indexes that duplicate others dropped.

A foreign key that leads a composite index needs no index of its own, and a unique or indexed
key column needs no second, ``varchar_pattern_ops`` copy of its index (Django builds one for
LIKE 'prefix%' searches; nothing here searches keys that way). Each written row paid for both.

Only indexes are dropped (a brief lock, no scan). The foreign keys' ``db_index=False`` is a state
change: left to Django, altering it would drop and re-add each foreign key constraint, which
validates every row. Going back rebuilds the foreign keys' indexes; the LIKE copies stay gone.
"""

from django.db import migrations, models
import django.db.models.deletion


def drop_index(name: str, table: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
    )


def drop_like_copy(name: str) -> migrations.RunSQL:
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', migrations.RunSQL.noop)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_trigger"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="auditevent", name="object_type", field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="contenttypes.contenttype")),
            ],
            database_operations=[drop_index("audit_auditevent_object_type_id_fc9a8733", "audit_auditevent", "object_type_id")],
        ),
        drop_like_copy("audit_auditevent_action_2131bb77_like"),
    ]
