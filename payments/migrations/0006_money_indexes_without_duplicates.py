"""Payments, allocations, refunds and key answers: indexes that duplicate others dropped.

A foreign key that leads a composite index needs no index of its own, and a unique or indexed
key column needs no second, ``varchar_pattern_ops`` copy of its index (Django builds one for
LIKE 'prefix%' searches; nothing here searches keys that way). Each written row paid for both.

Only indexes are dropped (a brief lock, no scan). The foreign keys' ``db_index=False`` is a state
change: left to Django, altering it would drop and re-add each foreign key constraint, which
validates every row. Going back rebuilds the foreign keys' indexes; the LIKE copies stay gone.
"""

from django.db import migrations, models
import django.db.models.deletion
from django.conf import settings


def drop_index(name: str, table: str, column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
    )


def drop_like_copy(name: str) -> migrations.RunSQL:
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', migrations.RunSQL.noop)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_history_indexes_by_object_and_date"),
        ("wallet", "0003_money_indexes_without_duplicates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="payment", name="buyer", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="payments", to=settings.AUTH_USER_MODEL, verbose_name="buyer")),
            ],
            database_operations=[drop_index("payments_payment_buyer_id_f0b52501", "payments_payment", "buyer_id")],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="payment", name="group_order", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="payments", to="payments.grouporder", verbose_name="group order")),
            ],
            database_operations=[drop_index("payments_payment_group_order_id_293115ff", "payments_payment", "group_order_id")],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="paymentallocation", name="payment", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="payments.payment")),
            ],
            database_operations=[drop_index("payments_paymentallocation_payment_id_17cbc394", "payments_paymentallocation", "payment_id")],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="refund", name="payment", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="refunds", to="payments.payment")),
            ],
            database_operations=[drop_index("payments_refund_payment_id_a70693f7", "payments_refund", "payment_id")],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="idempotencyrecord", name="user", field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            database_operations=[drop_index("payments_idempotencyrecord_user_id_7c64f28e", "payments_idempotencyrecord", "user_id")],
        ),
        drop_like_copy("payments_payment_idempotency_key_d254539e_like"),
        drop_like_copy("payments_refund_idempotency_key_5cf64fcf_like"),
    ]
