from celery import shared_task

from payments.money.idempotency import idempotency_purge


@shared_task(name="payments.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Delete API idempotency keys past their retention (scheduled in config/celery.py)."""
    return idempotency_purge()


# Reconciliation's tasks live in their package; importing them here registers them with Celery.
from payments.reconciliation import tasks as reconciliation_tasks  # noqa: E402, F401
