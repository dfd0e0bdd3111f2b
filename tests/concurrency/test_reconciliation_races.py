"""Two imports of one file at once add each line once; two runs on one account do not overlap
(control: without the account lock both runs claim the same matches)."""

import pytest

from payments.reconciliation import matching
from payments.reconciliation.importing import statement_create, statement_import
from payments.reconciliation.models import ReconciliationRun, StatementLine, StatementMatch
from tests.concurrency.helpers import run_at_once
from tests.finance.helpers import account, import_file, paid

ROWS = 120


def _gcash(count: int) -> bytes:
    lines = ["Date and Time,Description,Reference No.,Debit,Credit,Balance"]
    lines += [
        f"2026-03-02 {8 + n // 60:02d}:{n % 60:02d},Received GCash,{9200000000000 + n},,"
        f"{100 + n}.00,"
        for n in range(count)
    ]
    return "\n".join(lines).encode()


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_adds_each_line_once(settings: object) -> None:
    settings.STATEMENT_IMPORT_BATCH_SIZE = 10  # type: ignore[attr-defined]
    method = account("ph-gcash")
    statements = [
        statement_create(
            actor=method.owner,
            payment_method=method,
            data=_gcash(ROWS),
            file_name=f"copy{n}.csv",
            preset="gcash",
        )
        for n in range(2)
    ]

    results = run_at_once(
        [lambda pk=statement.pk: statement_import(statement_id=pk) for statement in statements]
    )

    assert [type(result).__name__ for result in results] == ["Statement", "Statement"]
    assert StatementLine.objects.filter(payment_method=method).count() == ROWS
    assert sum(result.lines_added for result in results) == ROWS
    assert sum(result.lines_already_present for result in results) == ROWS


def _two_runs_at_once(settings: object) -> tuple[object, list[object]]:
    settings.RECONCILIATION_BATCH_SIZE = 10  # type: ignore[attr-defined]
    settings.RECONCILIATION_BATCH_PAUSE_SECONDS = 0.02  # type: ignore[attr-defined]
    method = account("ph-gcash")
    for n in range(ROWS):
        paid(method, (100 + n) * 100, reference=str(9200000000000 + n), when="2026-03-02 08:00")
    import_file(method, _gcash(ROWS), preset="gcash")
    results = run_at_once(
        [lambda: matching.reconcile_account(payment_method_id=method.pk) for _ in range(2)]
    )
    return method, results


@pytest.mark.django_db(transaction=True)
def test_two_runs_on_one_account_at_once_one_waits_out(settings: object) -> None:
    method, results = _two_runs_at_once(settings)

    assert sorted(type(result).__name__ for result in results) == ["NoneType", "ReconciliationRun"]
    assert sum(run.matched for run in ReconciliationRun.objects.filter(payment_method=method)) == (
        ROWS
    )
    assert StatementMatch.objects.filter(line__payment_method=method).count() == ROWS


@pytest.mark.django_db(transaction=True)
def test_control_without_the_account_lock_both_runs_claim_the_matches(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matching, "ACCOUNT_LOCKING", False)

    method, results = _two_runs_at_once(settings)

    assert [type(result).__name__ for result in results] == ["ReconciliationRun"] * 2
    # The rows stay unique (constraints), but the two summaries together claim twice the work.
    assert StatementMatch.objects.filter(line__payment_method=method).count() == ROWS
    assert sum(run.matched for run in ReconciliationRun.objects.filter(payment_method=method)) > (
        ROWS
    )
