"""Two imports of the same source at once: the advisory lock makes the second import nothing.

Real threads on PostgreSQL; the first run to reach the writing step pauses there, so the other
run is certain to plan while the first has not committed. The control run without the lock shows
the race: both plan on the same empty target and the second crashes into the first's rows.
"""

import threading
import time
from typing import Any

import pytest
from django.db import IntegrityError, connection

from legacy import services
from legacy.models import ImportBatch
from payments.models import Payment, Submission


def _run_twice(legacy_source: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    original_apply = services._apply
    first = threading.Lock()

    def slow_first_apply(plan: Any, batch: Any, actor: Any) -> None:
        if first.acquire(blocking=False):
            time.sleep(1.0)
        original_apply(plan, batch, actor)

    monkeypatch.setattr(services, "_apply", slow_first_apply)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        try:
            results[index] = services.legacy_import_run(
                actor=None, source_dsn=legacy_source, batch_name=f"run-{index}", dry_run=False
            )
        except Exception as error:  # The test inspects whatever happened.
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_bring_each_row_in_once(
    legacy_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _run_twice(legacy_source, monkeypatch)

    assert [type(result).__name__ for result in results] == ["ImportOutcome", "ImportOutcome"]
    created = sorted(len(result.report["created"]) for result in results)
    assert created == [0, 11]
    assert Submission.objects.count() == 12
    assert Payment.objects.count() == 5
    assert ImportBatch.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_both_plan_the_same_rows(
    legacy_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "_lock", lambda: None)

    results = _run_twice(legacy_source, monkeypatch)

    failures = [result for result in results if isinstance(result, Exception)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert Submission.objects.count() == 12
    assert ImportBatch.objects.count() == 1
