"""Wallet entries: indexes that duplicate others dropped.

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
        ("wallet", "0002_history_indexes_by_object_and_date"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="walletentry", name="wallet", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="entries", to="wallet.wallet")),
            ],
            database_operations=[drop_index("wallet_walletentry_wallet_id_a011d2cc", "wallet_walletentry", "wallet_id")],
        ),
        drop_like_copy("wallet_walletentry_idempotency_key_2375882b_like"),
        drop_like_copy("wallet_walletentry_operation_key_66b19281_like"),
        drop_like_copy("wallet_creditgrant_idempotency_key_fcd7b931_like"),
    ]
