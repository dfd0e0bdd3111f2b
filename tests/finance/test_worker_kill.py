"""A real Celery worker (real Redis, the test database) is SIGKILLed in the middle of a
reconciliation run; running it again gives the same result as an uninterrupted run, with no
duplicate rows."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from config.celery import app
from payments.models import Payment
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import Discrepancy, ReconciliationRun, StatementMatch
from tests.factories import GroupOrderFactory, UserFactory
from tests.finance.helpers import account, import_file, local

ROOT = Path(__file__).resolve().parents[2]
LINES = 300
PAID = 290  # the last 10 lines have no payment: 10 unmatched-line discrepancies


def _statement() -> bytes:
    rows = ["Date and Time,Description,Reference No.,Debit,Credit,Balance"]
    for number in range(LINES):
        rows.append(
            f"2026-03-02 {8 + number // 60:02d}:{number % 60:02d},Received GCash,"
            f"{9100000000000 + number},,{100 + number}.00,"
        )
    return "\n".join(rows).encode()


def _accounts_with_payments() -> Any:
    method = account("ph-gcash")
    order = GroupOrderFactory(owner=method.owner)
    buyer = UserFactory()
    Payment.objects.bulk_create(
        Payment(
            group_order=order,
            buyer=buyer,
            currency="PHP",
            amount_minor=(100 + number) * 100,
            allocated_minor=0,
            credited_minor=(100 + number) * 100,
            source=Payment.Source.PROOF,
            method_type="gcash",
            payment_method=method,
            reference=str(9100000000000 + number),
            paid_at=local(method, "2026-03-02 08:00"),
            idempotency_key=f"kill-test-{method.pk}-{number}",
        )
        for number in range(PAID)
    )
    import_file(method, _statement(), preset="gcash")
    return method


def _database_url() -> str:
    settings = connection.settings_dict
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
        f"{settings['PORT']}/{settings['NAME']}"
    )


@pytest.fixture
def worker_queue() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    queue = f"finance-kill-{uuid.uuid4().hex[:8]}"
    started: list[subprocess.Popen[bytes]] = []
    yield queue, started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _start_worker(queue: str, started: list[subprocess.Popen[bytes]], log: Path) -> Any:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "RECONCILIATION_BATCH_SIZE": "10",
        # Slow the run down so the kill lands in the middle of it, not before or after.
        "RECONCILIATION_BATCH_PAUSE_SECONDS": "0.1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started.append(process)
    return process


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _summary(method: Any) -> tuple[Any, ...]:
    matches = StatementMatch.objects.filter(line__payment_method=method)
    return (
        matches.count(),
        matches.order_by().values("line_id", "payment_id").distinct().count(),
        sorted(matches.order_by("kind").values_list("kind", flat=True).distinct()),
        dict(
            (kind, Discrepancy.objects.filter(payment_method=method, kind=kind).count())
            for kind in Discrepancy.Kind.values
        ),
    )


@pytest.mark.django_db(transaction=True)
def test_killed_worker_mid_run_then_run_again_gives_the_same_result(
    worker_queue: tuple[str, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    queue, started = worker_queue
    # Messages go to the real broker for the real worker (the suite's default is eager).
    app.conf.task_always_eager = False
    killed = _accounts_with_payments()
    control = _accounts_with_payments()
    control_run = reconcile_account(payment_method_id=control.pk)
    assert control_run is not None

    worker = _start_worker(queue, started, tmp_path / "worker-1.log")
    app.send_task("payments.reconcile_account", args=[killed.pk], queue=queue)
    matches = StatementMatch.objects.filter(line__payment_method=killed)
    _wait(lambda: matches.count() >= 30, 60, "the run to be under way")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    partial = matches.count()

    assert 30 <= partial < PAID, "the kill must land in the middle of the run"
    assert ReconciliationRun.objects.get(payment_method=killed).status == "running"

    second = _start_worker(queue, started, tmp_path / "worker-2.log")
    app.send_task("payments.reconcile_account", args=[killed.pk], queue=queue)
    finished = ReconciliationRun.objects.filter(payment_method=killed, status="done")
    _wait(finished.exists, 120, "the second run to finish")
    run_id = finished.get().pk
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)

    runs = dict(ReconciliationRun.objects.filter(payment_method=killed).values_list("pk", "status"))
    assert sorted(runs.values()) == ["done", "failed"]
    assert runs[run_id] == "done"
    final = ReconciliationRun.objects.get(pk=run_id)
    assert final.discrepancies == control_run.discrepancies == {"unmatched_line": LINES - PAID}
    assert final.matched + partial == PAID == control_run.matched
    assert (
        _summary(killed)
        == _summary(control)
        == (
            PAID,
            PAID,
            ["reference"],
            {
                "missing_from_statement": 0,
                "unmatched_line": LINES - PAID,
                "amount_mismatch": 0,
                "currency_mismatch": 0,
                "duplicate_line": 0,
            },
        )
    )
    # Running yet again (the daily schedule) changes nothing.
    reconcile_account(payment_method_id=killed.pk)
    assert _summary(killed) == _summary(control)
