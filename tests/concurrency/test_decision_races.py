"""Never twice: two people deciding one submission at once, 200 times, on PostgreSQL threads.

Each round gets a fresh submission awaiting a decision (users, order and method are set up once).
Locked runs: exactly one decision, at most one payment, and the other person gets ``conflict``
naming who decided and when. Control runs turn the lock off (``LOCK_DECISIONS``, a switch the
product never touches) with the same widened check-to-write gap, and must show the race: both
pass the check, so the loser is not told a conflict (it hits the money core's refusal), or a
decision is recorded twice.
"""

from collections.abc import Callable
from typing import Any

import pytest

from audit.models import AuditEvent
from payments.models import Payment
from tests.concurrency.helpers import run_at_once
from tests.dashboard.helpers import make_verifier, queued, review_of
from tests.factories import PaymentMethodFactory
from verification import decisions
from verification.decisions import (
    DecisionResult,
    Outcome,
    submission_approve,
    submission_reject,
    submissions_decide_bulk,
)
from verification.models import ProofReview

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 200
CONTROL_ROUNDS = 40


@pytest.fixture
def verifier(personas):  # type: ignore[no-untyped-def]
    return make_verifier(personas)


@pytest.fixture
def race_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decisions, "RACE_WINDOW_SECONDS", 0.01)


def _decision_events(review: ProofReview) -> int:
    return AuditEvent.objects.filter(
        action__startswith="verification.", object_id=str(review.pk)
    ).count()


def _single(actor: Any, action: str) -> Callable[[int], DecisionResult]:
    if action == "approve":
        return lambda pk: submission_approve(actor=actor, submission_id=pk)
    return lambda pk: submission_reject(actor=actor, submission_id=pk, reason_code="unreadable")


def _bulk(actor: Any, action: str) -> Callable[[int], DecisionResult]:
    return lambda pk: submissions_decide_bulk(
        actor=actor, action=action, submission_ids=[pk], reason_code="unreadable"
    )[0]


def _rounds(personas, verifier, first, second, rounds: int):  # type: ignore[no-untyped-def]
    """Run ``rounds`` races; return per round (results, decision events, payments)."""
    method = PaymentMethodFactory(owner=personas.owner)
    outcomes = []
    for _ in range(rounds):
        submission = queued(group_order=personas.order, store_file=False, method=method)
        pk = submission.pk
        results = run_at_once([lambda pk=pk: first(pk), lambda pk=pk: second(pk)])
        review = review_of(submission)
        outcomes.append(
            (
                results,
                review,
                _decision_events(review),
                Payment.objects.filter(allocations__submission=submission).count(),
            )
        )
    return outcomes


def _assert_exactly_one(outcomes, names: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    for results, review, events, payments in outcomes:
        assert all(isinstance(result, DecisionResult) for result in results), results
        done = [result for result in results if result.is_done]
        lost = [result for result in results if not result.is_done]
        assert len(done) == 1, results
        assert [result.outcome for result in lost] == [Outcome.CONFLICT]
        # The loser is told who decided and when: the winner, at the recorded time.
        assert lost[0].decided_by == names[review.decided_by_id]
        assert lost[0].decided_at == review.decided_at
        assert events == 1
        assert payments == (1 if done[0].outcome == Outcome.APPROVED else 0)


def _names(personas, verifier) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {user.pk: user.full_name or user.email for user in (personas.owner, verifier)}


def test_approve_against_reject_decides_once_every_time(personas, verifier, race_window) -> None:
    outcomes = _rounds(
        personas,
        verifier,
        _single(personas.owner, "approve"),
        _single(verifier, "reject"),
        ROUNDS,
    )
    _assert_exactly_one(outcomes, _names(personas, verifier))
    winners = {next(r for r in results if r.is_done).outcome for results, *_ in outcomes}
    # Both sides won some rounds: the test really raced them.
    assert winners == {Outcome.APPROVED, Outcome.REJECTED}


def test_bulk_against_single_decides_once_every_time(personas, verifier, race_window) -> None:
    outcomes = _rounds(
        personas,
        verifier,
        _bulk(personas.owner, "approve"),
        _single(verifier, "approve"),
        ROUNDS,
    )
    _assert_exactly_one(outcomes, _names(personas, verifier))


def test_control_without_the_lock_approve_against_reject_shows_the_race(
    personas, verifier, race_window, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decisions, "LOCK_DECISIONS", False)
    outcomes = _rounds(
        personas,
        verifier,
        _single(personas.owner, "approve"),
        _single(verifier, "reject"),
        CONTROL_ROUNDS,
    )
    # Both passed the check on a stale read: the loser met the state machine's refusal
    # ("cannot go from verified to rejected") instead of being told who decided.
    raced = [
        results
        for results, *_ in outcomes
        if [r.outcome for r in results if not r.is_done] not in ([Outcome.CONFLICT],)
    ]
    assert len(raced) > 0
    assert all(r.outcome == Outcome.INVALID for results in raced for r in results if not r.is_done)


def test_control_without_the_lock_bulk_against_single_shows_the_race(
    personas, verifier, race_window, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decisions, "LOCK_DECISIONS", False)
    outcomes = _rounds(
        personas,
        verifier,
        _bulk(personas.owner, "approve"),
        _single(verifier, "approve"),
        CONTROL_ROUNDS,
    )
    # Both passed the check: either both were told "approved" (two decisions for one proof),
    # or the loser ran into the money core's refusal instead of being told who decided.
    raced = [
        (results, events)
        for results, _, events, _ in outcomes
        if events > 1 or any(r.outcome == Outcome.INVALID for r in results)
    ]
    assert len(raced) > 0
    # The money core's own guards (idempotency key, payable states) still kept the money right.
    assert max(payments for *_, payments in outcomes) == 1
