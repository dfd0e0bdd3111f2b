"""Wallet entries and grants: indexes that duplicate others dropped.

See core.migration_ops: only indexes are dropped.
"""

from django.db import migrations, models
import django.db.models.deletion

from core.migration_ops import drop_like_copy, foreign_key_without_index


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0002_history_indexes_by_object_and_date"),
    ]

    operations = [
        foreign_key_without_index(
            "walletentry",
            "wallet",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="entries", to="wallet.wallet"),
            index="wallet_walletentry_wallet_id_a011d2cc",
            table="wallet_walletentry",
            column="wallet_id",
        ),
        drop_like_copy("wallet_walletentry_idempotency_key_2375882b_like"),
        drop_like_copy("wallet_walletentry_operation_key_66b19281_like"),
        drop_like_copy("wallet_creditgrant_idempotency_key_fcd7b931_like"),
    ]
