"""The daily schedule, the reconcile command, and the wiring to the triple match."""

from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import TestCase

from config.celery import app
from payments.reconciliation.models import ReconciliationRun
from payments.reconciliation.tasks import reconcile_account_task, reconcile_all_task
from tests.finance.helpers import account, import_file, paid

GCASH = (
    "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
    "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
    "2026-03-02 9:20 AM,Received GCash from 09170000002,9000111222444,,77.00,\n"
)


def test_beat_schedules_the_daily_run() -> None:
    assert app.conf.beat_schedule["payments-reconcile-all"]["task"] == "payments.reconcile_all"
    assert "verification.triple_match" in app.conf.imports


@pytest.mark.django_db
def test_daily_task_runs_every_account_with_statements_once() -> None:
    first, second, idle = account("ph-gcash"), account("ph-gcash"), account("ph-gcash")
    paid(first, 125_000, reference="9000111222333", when="2026-03-02 09:00")
    for method in (first, second):
        import_file(method, GCASH.encode(), preset="gcash")

    with mock.patch.object(app, "send_task") as send_task:
        assert reconcile_all_task.delay().get() == 2

    runs = dict(ReconciliationRun.objects.values_list("payment_method_id", "matched"))
    assert runs == {first.pk: 1, second.pk: 0}
    assert idle.pk not in runs
    send_task.assert_not_called()  # enqueued only after commit, which a test transaction lacks


@pytest.mark.django_db
def test_a_run_hands_over_to_the_triple_match_after_commit() -> None:
    method = account("ph-gcash")
    import_file(method, GCASH.encode(), preset="gcash")

    with (
        mock.patch("payments.reconciliation.tasks.current_app.send_task") as send_task,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        run_id = reconcile_account_task.delay(method.pk).get()

    assert ReconciliationRun.objects.get(pk=run_id).status == "done"
    send_task.assert_called_once_with("verification.triple_match_auto_approve")


@pytest.mark.django_db
def test_reconcile_command_prints_the_summary(capsys: Any) -> None:
    method = account("ph-gcash")
    paid(method, 125_000, reference="9000111222333", when="2026-03-02 09:00")
    import_file(method, GCASH.encode(), preset="gcash")

    call_command("reconcile", account=method.pk)

    assert capsys.readouterr().out == (
        f"Account {method.pk}: matched 1, suggested 0, unmatched 1; "
        "open discrepancies: unmatched_line 1\n"
    )


@pytest.mark.django_db
def test_abandoned_previews_are_purged_after_a_day() -> None:
    import os
    import time

    from django.core.files.base import ContentFile

    from payments.reconciliation.models import statement_storage
    from payments.reconciliation.tasks import purge_statement_previews_task

    default_storage = statement_storage()
    old = default_storage.save("statements/pending/old", ContentFile(b"x"))
    new = default_storage.save("statements/pending/new", ContentFile(b"y"))
    two_days_ago = time.time() - 2 * 86_400
    os.utime(default_storage.path(old), (two_days_ago, two_days_ago))

    assert purge_statement_previews_task.delay().get() == 1

    assert (default_storage.exists(old), default_storage.exists(new)) == (False, True)


@pytest.mark.django_db
def test_after_proof_analysis_the_triple_match_is_queued() -> None:
    from celery.signals import task_success

    from verification import triple_match
    from verification.tasks import analyze_proof_task

    with (
        mock.patch.object(triple_match.triple_match_auto_approve_task, "delay") as delay,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        task_success.send(sender=analyze_proof_task, result="done")
        task_success.send(sender=reconcile_all_task, result=0)

    delay.assert_called_once_with()
