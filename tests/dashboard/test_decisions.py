"""Approve, reject, ask for a new proof: money through the money core, never twice, scoped."""

import pytest
from django.core import mail

from audit.models import AuditEvent
from payments.models import Payment, PaymentAllocation, Submission, SubmissionStatus
from tests.dashboard.helpers import queued, review_of
from verification.decisions import (
    Outcome,
    submission_approve,
    submission_reject,
    submissions_decide_bulk,
)
from verification.models import ProofReview, ReviewState
from wallet.models import CreditGrant

pytestmark = pytest.mark.django_db


def _audit_baseline() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.pk if last else 0


def _actions_since(baseline: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(pk__gt=baseline).order_by("id").values_list("action", flat=True)
    )


def test_approving_the_amount_read_records_the_payment_and_verifies(
    personas, django_capture_on_commit_callbacks
) -> None:
    submission = queued(group_order=personas.order, amount_read_minor=125_000)
    baseline = _audit_baseline()
    with django_capture_on_commit_callbacks(execute=True):
        result = submission_approve(
            actor=personas.owner, submission_id=submission.pk, expected_version=submission.version
        )
    assert result.outcome == Outcome.APPROVED
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.VERIFIED
    assert submission.paid_minor == 125_000
    payment = Payment.objects.get()
    assert (payment.amount_minor, payment.allocated_minor, payment.credited_minor) == (
        125_000,
        125_000,
        0,
    )
    assert payment.source == Payment.Source.PROOF
    assert payment.idempotency_key == f"proof:{review_of(submission).proof_id}:approval"
    assert result.payment_id == payment.pk
    review = review_of(submission)
    assert (review.state, review.decided_by, review.amount_approved_minor, review.payment) == (
        ReviewState.APPROVED,
        personas.owner,
        125_000,
        payment,
    )
    assert _actions_since(baseline) == [
        "submission.state_changed",
        "payment.recorded",
        "verification.approved",
    ]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"Your payment for {submission.code} is verified"
    assert mail.outbox[0].to == [submission.buyer.email]


def test_approving_less_leaves_the_submission_partially_paid(personas) -> None:
    submission = queued(group_order=personas.order, amount_read_minor=125_000)
    result = submission_approve(
        actor=personas.owner, submission_id=submission.pk, amount_minor=50_000
    )
    assert result.outcome == Outcome.APPROVED
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == (SubmissionStatus.PARTIALLY_PAID, 50_000)
    assert PaymentAllocation.objects.get().amount_minor == 50_000
    assert CreditGrant.objects.count() == 0


def test_approving_more_turns_the_rest_into_wallet_credit(personas) -> None:
    submission = queued(group_order=personas.order, amount_read_minor=150_000)
    result = submission_approve(actor=personas.owner, submission_id=submission.pk)
    assert result.outcome == Outcome.APPROVED
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == (SubmissionStatus.VERIFIED, 125_000)
    payment = Payment.objects.get()
    assert (payment.amount_minor, payment.allocated_minor, payment.credited_minor) == (
        150_000,
        125_000,
        25_000,
    )
    grant = CreditGrant.objects.get()
    assert (grant.buyer, grant.amount_minor, grant.kind) == (
        submission.buyer,
        25_000,
        "overpayment",
    )


def test_rejecting_notifies_the_buyer_with_the_reason(
    personas, django_capture_on_commit_callbacks
) -> None:
    submission = queued(group_order=personas.order)
    baseline = _audit_baseline()
    with django_capture_on_commit_callbacks(execute=True):
        result = submission_reject(
            actor=personas.owner,
            submission_id=submission.pk,
            reason_code="amount_mismatch",
            reason_text="You sent 1,000 instead of 1,250.",
        )
    assert result.outcome == Outcome.REJECTED
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.REJECTED
    review = review_of(submission)
    assert (review.state, review.reason_code) == (ReviewState.REJECTED, "amount_mismatch")
    assert Payment.objects.count() == 0
    assert _actions_since(baseline) == ["submission.state_changed", "verification.rejected"]
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "The amount does not match what is due" in body
    assert "You sent 1,000 instead of 1,250." in body


def test_asking_for_a_new_proof_lets_the_buyer_upload_again(
    personas, django_capture_on_commit_callbacks
) -> None:
    submission = queued(group_order=personas.order)
    with django_capture_on_commit_callbacks(execute=True):
        result = submission_reject(
            actor=personas.owner,
            submission_id=submission.pk,
            reason_code="unreadable",
            reupload=True,
        )
    assert result.outcome == Outcome.REUPLOAD_REQUESTED
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.REJECTED
    assert submission.can_transition_to(SubmissionStatus.PROOF_SUBMITTED)
    assert review_of(submission).state == ReviewState.REUPLOAD_REQUESTED
    assert (
        mail.outbox[0].subject == f"Your proof of payment for {submission.code} needs another look"
    )
    assert "Reason: New proof requested: " in mail.outbox[0].body


def test_a_second_decision_is_told_who_decided_and_changes_nothing(personas, verifier) -> None:
    submission = queued(group_order=personas.order)
    version = submission.version
    first = submission_approve(
        actor=verifier, submission_id=submission.pk, expected_version=version
    )
    assert first.outcome == Outcome.APPROVED
    baseline = _audit_baseline()
    second = submission_reject(
        actor=personas.owner,
        submission_id=submission.pk,
        reason_code="unreadable",
        expected_version=version,
    )
    assert second.outcome == Outcome.CONFLICT
    assert second.decided_by == (verifier.full_name or verifier.email)
    assert second.decided_at == review_of(submission).decided_at
    assert "Already approved by" in second.message
    assert _actions_since(baseline) == []
    assert Payment.objects.count() == 1
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.VERIFIED


def test_a_stale_version_is_a_conflict(personas) -> None:
    submission = queued(group_order=personas.order)
    Submission.objects.filter(pk=submission.pk).update(version=submission.version + 1)
    result = submission_approve(
        actor=personas.owner, submission_id=submission.pk, expected_version=submission.version
    )
    assert result.outcome == Outcome.CONFLICT
    assert Payment.objects.count() == 0
    assert review_of(submission).state == ReviewState.AWAITING


def test_view_only_assistant_finance_and_other_gom_cannot_decide(personas) -> None:
    submission = queued(group_order=personas.order)
    baseline = _audit_baseline()
    assert (
        submission_approve(actor=personas.assistant, submission_id=submission.pk).outcome
        == Outcome.NOT_PERMITTED
    )
    assert (
        submission_approve(actor=personas.finance, submission_id=submission.pk).outcome
        == Outcome.NOT_PERMITTED
    )
    assert (
        submission_reject(
            actor=personas.other_gom, submission_id=submission.pk, reason_code="unreadable"
        ).outcome
        == Outcome.NOT_FOUND
    )
    assert _actions_since(baseline) == []
    assert review_of(submission).state == ReviewState.AWAITING
    assert Payment.objects.count() == 0


def test_a_reject_without_a_reason_is_refused(personas) -> None:
    submission = queued(group_order=personas.order)
    with pytest.raises(ValueError, match="Give a reason"):
        submission_reject(actor=personas.owner, submission_id=submission.pk)
    with pytest.raises(ValueError, match="not a rejection reason"):
        submission_reject(actor=personas.owner, submission_id=submission.pk, reason_code="meh")
    assert review_of(submission).state == ReviewState.AWAITING


def test_bulk_gives_one_result_per_row(personas) -> None:
    plain = [queued(group_order=personas.order) for _ in range(3)]
    duplicate = queued(
        group_order=personas.order,
        flags=[{"code": "duplicate_reference", "proof": 1, "submission": plain[0].pk}],
    )
    decided = queued(group_order=personas.order)
    submission_reject(actor=personas.owner, submission_id=decided.pk, reason_code="unreadable")
    others = personas.other_submission
    ids = [p.pk for p in plain] + [duplicate.pk, decided.pk, others.pk]
    results = submissions_decide_bulk(actor=personas.owner, action="approve", submission_ids=ids)
    assert [r.submission_id for r in results] == ids
    assert [r.outcome for r in results] == [
        Outcome.APPROVED,
        Outcome.APPROVED,
        Outcome.APPROVED,
        Outcome.NEEDS_SINGLE_REVIEW,
        Outcome.CONFLICT,
        Outcome.NOT_FOUND,
    ]
    assert "Already rejected by" in results[4].message
    assert Payment.objects.count() == 3
    assert ProofReview.objects.filter(state=ReviewState.APPROVED).count() == 3
    assert review_of(duplicate).state == ReviewState.AWAITING


def test_bulk_reject_needs_a_reason_and_writes_nothing_without_one(
    personas, django_capture_on_commit_callbacks
) -> None:
    rows = [queued(group_order=personas.order) for _ in range(2)]
    with pytest.raises(ValueError, match="Give a reason"):
        submissions_decide_bulk(
            actor=personas.owner, action="reject", submission_ids=[r.pk for r in rows]
        )
    assert ProofReview.objects.filter(state=ReviewState.AWAITING).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        results = submissions_decide_bulk(
            actor=personas.owner,
            action="reject",
            submission_ids=[r.pk for r in rows],
            reason_code="duplicate",
        )
    assert [r.outcome for r in results] == [Outcome.REJECTED, Outcome.REJECTED]
    assert len(mail.outbox) == 2


def test_a_new_proof_replaces_a_review_the_submission_left_without_a_decision(personas) -> None:
    from payments.services import submission_transition
    from tests.dashboard.helpers import png_bytes
    from verification.services import proof_submit

    submission = queued(group_order=personas.order)
    stale = review_of(submission)
    submission_transition(
        actor=personas.owner, submission=submission, target=SubmissionStatus.REJECTED
    )
    submission.refresh_from_db()
    import io

    proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(png_bytes()),
        original_name="again.png",
    )
    stale.refresh_from_db()
    assert stale.state == ReviewState.SUPERSEDED
    assert stale.decided_at is not None
    assert ProofReview.objects.filter(submission=submission, state="awaiting").count() == 1


def test_a_long_rejection_note_reaches_the_buyer_whole(
    personas, django_capture_on_commit_callbacks
) -> None:
    submission = queued(group_order=personas.order)
    note = "Please send the full screenshot. " * 15  # 495 characters, the form allows 500
    with django_capture_on_commit_callbacks(execute=True):
        result = submission_reject(
            actor=personas.owner,
            submission_id=submission.pk,
            expected_version=submission.version,
            reason_code="unreadable",
            reason_text=note,
        )
    assert result.outcome == Outcome.REJECTED
    submission.refresh_from_db()
    expected = f"The proof cannot be read. {note.strip().rstrip('.')}."
    # No "Rejected: " in front: the buyer's page and e-mail already say it was rejected.
    assert submission.verification_notes == expected
    assert review_of(submission).reason_text == note.strip()
    # simple-history's change reason holds 100 characters: cut, never a database error.
    reason = submission.history.first().history_change_reason
    assert (len(reason), reason) == (100, expected[:99] + "…")
    assert f"Reason: {expected}" in mail.outbox[0].body
