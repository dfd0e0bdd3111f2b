"""Audit events: indexes that duplicate others dropped.

See core.migration_ops: only indexes are dropped.
"""

from django.db import migrations, models
import django.db.models.deletion

from core.migration_ops import drop_like_copy, foreign_key_without_index


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_trigger"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        foreign_key_without_index(
            "auditevent",
            "object_type",
            models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="contenttypes.contenttype"),
            index="audit_auditevent_object_type_id_fc9a8733",
            table="audit_auditevent",
            column="object_type_id",
        ),
        drop_like_copy("audit_auditevent_action_2131bb77_like"),
    ]
