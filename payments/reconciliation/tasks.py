"""Thin Celery tasks: statement imports, reconciliation runs, the daily schedule."""

from celery import current_app, shared_task
from django.db import OperationalError, transaction

from payments.reconciliation.importing import statement_import, statement_previews_purge
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import Statement


@shared_task(
    name="payments.import_statement",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=5,
    acks_late=True,
)
def import_statement_task(statement_id: int) -> str:
    return statement_import(statement_id=statement_id).status


@shared_task(
    name="payments.reconcile_account",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=5,
    # Redelivered if the worker dies mid-run; the run is repeat-safe.
    acks_late=True,
    reject_on_worker_lost=True,
)
def reconcile_account_task(payment_method_id: int) -> int | None:
    run = reconcile_account(payment_method_id=payment_method_id)
    if run is not None:
        # By name: payments may not import the verification app, which owns the decision.
        transaction.on_commit(
            lambda: current_app.send_task("verification.triple_match_auto_approve")
        )
    return run.pk if run is not None else None


@shared_task(name="payments.reconcile_all")
def reconcile_all_task() -> int:
    """Queue one run per provider account that has imported statements (daily, from beat)."""
    accounts = list(
        Statement.objects.filter(status=Statement.Status.IMPORTED)
        .values_list("payment_method_id", flat=True)
        .distinct()
        .order_by("payment_method_id")
    )
    for account_id in accounts:
        reconcile_account_task.delay(account_id)
    return len(accounts)


@shared_task(name="payments.purge_statement_previews")
def purge_statement_previews_task() -> int:
    return statement_previews_purge()
