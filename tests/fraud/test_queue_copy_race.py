"""A submission's check and its proof's check at the same moment: the queue row shows both hits.

Real threads on PostgreSQL. Each check is held at a barrier after it has read the submission's
hits, so both read before either commits; with the per-submission advisory lock the second waits
for the first and copies both hits; the control run without the lock loses one of them.
"""

import contextlib
import threading

import pytest

from fraud import services
from fraud.models import FraudLog
from tests.concurrency.helpers import run_at_once
from tests.factories import GroupOrderFactory, UserFactory
from tests.fraud.helpers import proof_at
from verification.models import ProofReview


def _race(monkeypatch: pytest.MonkeyPatch, settings: object, *, serialize: bool) -> list[str]:
    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 100_000}  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "SERIALIZE_CHECKS", serialize)
    barrier = threading.Barrier(2)
    original = services.queue_hits

    def held_queue_hits(submission_id: int) -> list[dict[str, str]]:
        found = original(submission_id)
        # With the lock the other check cannot get here until this one commits: stop waiting.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return found

    monkeypatch.setattr(services, "queue_hits", held_queue_hits)
    order, sha = GroupOrderFactory(), "9a" * 32
    proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
    copy = proof_at(buyer=UserFactory(), group_order=order, sha256=sha)  # 125,000 due

    results = run_at_once(
        [
            lambda: services.fraud_check_submission(submission_id=copy.submission_id),
            lambda: services.fraud_check_proof(proof_id=copy.pk),
        ]
    )

    assert [len(result) for result in results] == [1, 1]  # no thread met an error
    assert FraudLog.objects.filter(submission_id=copy.submission_id).count() == 2
    return [hit["rule"] for hit in ProofReview.objects.get(pk=copy.pk).fraud_hits]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_checks_both_show_on_the_queue_row(
    monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    assert _race(monkeypatch, settings, serialize=True) == [
        "amount_over_limit",
        "shared_proof_file",
    ]


@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_loses_one_hit_on_the_row(
    monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    shown = _race(monkeypatch, settings, serialize=False)
    assert len(shown) == 1
    assert shown[0] in ("amount_over_limit", "shared_proof_file")
