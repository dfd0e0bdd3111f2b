"""PostgreSQL-only indexes of the queue: oldest first (covering), flags, substring search.

The covering index answers a page of the queue from the index alone: the order (state,
queued_at, proof) plus the group order and the flags to filter on, so a GOM's page or a flag
filter over a million rows reads a few thousand index entries and no table rows.

Built CONCURRENTLY (so outside a transaction): the queue table grows large and must never be
write-locked by an index build. SQLite (the embedded default) gets none of them; the queries
still work there, just without these indexes.
"""

from django.db import migrations

INDEXES = {
    "review_state_queued_cover": "(state, queued_at, proof_id) INCLUDE (group_order_id, flags)",
    "review_flags_gin": "USING gin (flags jsonb_path_ops)",
    "review_buyer_name_trgm": "USING gin ((UPPER(buyer_name::text)) gin_trgm_ops)",
    "review_buyer_email_trgm": "USING gin ((UPPER(buyer_email::text)) gin_trgm_ops)",
}


def forwards(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} "
            f"ON verification_proofreview {definition}",
            params=None,
        )


def backwards(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("verification", "0002_proofreview")]

    operations = [migrations.RunPython(forwards, backwards)]
