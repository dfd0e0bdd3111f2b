"""Payments, allocations, refunds and key answers: indexes that duplicate others dropped.

See core.migration_ops: only indexes are dropped.
"""

from django.db import migrations, models
import django.db.models.deletion
from django.conf import settings

from core.migration_ops import drop_like_copy, foreign_key_without_index


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_history_indexes_by_object_and_date"),
        ("wallet", "0003_money_indexes_without_duplicates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        foreign_key_without_index(
            "payment",
            "buyer",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="payments", to=settings.AUTH_USER_MODEL, verbose_name="buyer"),
            index="payments_payment_buyer_id_f0b52501",
            table="payments_payment",
            column="buyer_id",
        ),
        foreign_key_without_index(
            "payment",
            "group_order",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="payments", to="payments.grouporder", verbose_name="group order"),
            index="payments_payment_group_order_id_293115ff",
            table="payments_payment",
            column="group_order_id",
        ),
        foreign_key_without_index(
            "paymentallocation",
            "payment",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="payments.payment"),
            index="payments_paymentallocation_payment_id_17cbc394",
            table="payments_paymentallocation",
            column="payment_id",
        ),
        foreign_key_without_index(
            "refund",
            "payment",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="refunds", to="payments.payment"),
            index="payments_refund_payment_id_a70693f7",
            table="payments_refund",
            column="payment_id",
        ),
        foreign_key_without_index(
            "idempotencyrecord",
            "user",
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL),
            index="payments_idempotencyrecord_user_id_7c64f28e",
            table="payments_idempotencyrecord",
            column="user_id",
        ),
        drop_like_copy("payments_payment_idempotency_key_d254539e_like"),
        drop_like_copy("payments_refund_idempotency_key_5cf64fcf_like"),
    ]
