"""Verification decisions: approve, reject, ask for a new proof, one at a time or in bulk.

Never twice: every decision runs in one transaction that locks the submission, then its awaiting
review, re-checks on the locked copies (still awaiting? still the version the person saw?) and
only then writes. Two people deciding at once: one wins, the other gets a ``conflict`` result
naming who decided and when, and nothing of theirs is written. The money goes through
``payments.money.services.payment_record`` under the same lock.
"""

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_event, audit_record_many
from core.bulk_sql import bulk_update_rows
from core.money import format_money
from payments.exceptions import PaymentsError
from payments.models import Payment, Submission, SubmissionStatus
from payments.money.batch import ProofPayment, payment_record_batch
from payments.money.services import payment_record
from payments.selectors import Access, submission_list_for_user
from payments.services import submission_transition
from verification import queue_events
from verification.models import ProofReview, RejectReason, ReviewState

# Only the concurrency test's control run turns this off, to show the race the lock prevents:
# then the state is checked on an unlocked read and the writes follow blindly.
LOCK_DECISIONS = True
# The concurrency test widens the gap between the check and the write (same in both runs).
RACE_WINDOW_SECONDS = 0.0

# Flags a bulk approval never waves through: a possible double use of one payment.
NEEDS_SINGLE_REVIEW = frozenset({"duplicate_file", "duplicate_reference", "amount_mismatch"})


class Outcome:
    APPROVED = "approved"
    REJECTED = "rejected"
    REUPLOAD_REQUESTED = "reupload_requested"
    CONFLICT = "conflict"  # someone decided first (or the submission changed): nothing written
    NEEDS_SINGLE_REVIEW = "needs_single_review"
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # a business rule refused it (amount over the limit, …)


@dataclass(frozen=True)
class DecisionResult:
    submission_id: int
    outcome: str
    message: str
    submission_code: str = ""
    decided_by: str = ""
    decided_at: datetime | None = None
    payment_id: int | None = None
    status: str = ""
    proof_id: int | None = None

    @property
    def is_done(self) -> bool:
        return self.outcome in (
            Outcome.APPROVED,
            Outcome.REJECTED,
            Outcome.REUPLOAD_REQUESTED,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat() if self.decided_at else None
        return data


class _Refused(Exception):
    def __init__(self, result: DecisionResult) -> None:
        super().__init__(result.message)
        self.result = result


def _who(user: Any) -> str:
    if user is None:
        return "the system"
    return getattr(user, "full_name", "") or user.email


def _conflict(submission: Submission) -> DecisionResult:
    """Describe who decided a submission the caller found changed."""
    last = (
        ProofReview.objects.filter(submission=submission, decided_at__isnull=False)
        .select_related("decided_by")
        .order_by("-decided_at")
        .first()
    )
    if last is not None and submission.status != SubmissionStatus.PROOF_SUBMITTED:
        by, at = _who(last.decided_by), last.decided_at
        what = last.get_state_display().lower()
    else:
        by, at, what = "someone else", submission.updated_at, "changed"
    local = timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""
    return DecisionResult(
        submission_id=submission.pk,
        submission_code=submission.code,
        outcome=Outcome.CONFLICT,
        message=f"Already {what} by {by} at {local}; nothing was changed.",
        decided_by=by,
        decided_at=at,
        status=submission.status,
    )


def _lock(submission_id: int, expected_version: int | None) -> tuple[Submission, ProofReview]:
    """Lock the submission, then its awaiting review (always in this order), and re-check."""
    # The buyer, order and method ride along (unlocked: of=self) because approving needs them.
    submissions = Submission.objects.select_related("buyer", "group_order", "payment_method")
    if LOCK_DECISIONS:
        submission = submissions.select_for_update(of=("self",)).get(pk=submission_id)
    else:
        submission = submissions.get(pk=submission_id)
    if submission.status != SubmissionStatus.PROOF_SUBMITTED or (
        expected_version is not None and submission.version != expected_version
    ):
        raise _Refused(_conflict(submission))
    reviews = ProofReview.objects.filter(submission=submission, state=ReviewState.AWAITING)
    if LOCK_DECISIONS:
        reviews = reviews.select_for_update(of=("self",))
    review = reviews.select_related("proof").first()
    if RACE_WINDOW_SECONDS:
        time.sleep(RACE_WINDOW_SECONDS)
    _check_locked(submission, review, expected_version, bulk=False)
    assert review is not None  # _check_locked refused a missing one
    return submission, review


def _check_locked(
    submission: Submission, review: ProofReview | None, expected_version: int | None, *, bulk: bool
) -> None:
    """Re-check a locked submission and its awaiting review; raise _Refused to decide nothing."""
    if (
        submission.status != SubmissionStatus.PROOF_SUBMITTED
        or (expected_version is not None and submission.version != expected_version)
        or review is None
    ):
        raise _Refused(_conflict(submission))
    # Fraud check hits too: a flag for a human, so never approved in a batch.
    flagged = NEEDS_SINGLE_REVIEW & set(review.flags) | {
        f"fraud: {hit['rule']}" for hit in review.fraud_hits or []
    }
    if bulk and flagged:
        flags = ", ".join(sorted(flagged))
        raise _Refused(
            DecisionResult(
                submission_id=submission.pk,
                submission_code=submission.code,
                outcome=Outcome.NEEDS_SINGLE_REVIEW,
                message=f"Flagged ({flags}): open it and decide on its own.",
                status=submission.status,
            )
        )


def _decided(
    actor: Any,
    review: ProofReview,
    state: str,
    *,
    reason_code: str = "",
    reason_text: str = "",
    amount_minor: int | None = None,
    payment: Payment | None = None,
) -> AuditEvent:
    """Record the decision on the (locked) review in memory; return its audit event, unsaved."""
    review.state = state
    review.decided_by = actor
    review.decided_at = timezone.now()
    review.reason_code = reason_code
    review.reason_text = reason_text
    review.amount_approved_minor = amount_minor
    review.payment = payment
    return audit_event(
        actor=actor,
        action=f"verification.{state}",
        target=review,
        after={
            "submission": review.submission_code,
            "proof": review.proof_id,
            "reason": reason_code,
            "note": reason_text,
            "amount_minor": amount_minor,
            "payment": payment.pk if payment else None,
        },
    )


def _finish(actor: Any, review: ProofReview, state: str, **decision: Any) -> None:
    event = _decided(actor, review, state, **decision)
    review.save(update_fields=_DECISION_FIELDS)
    event.save(force_insert=True)


_DECISION_FIELDS = [
    "state",
    "decided_by",
    "decided_at",
    "reason_code",
    "reason_text",
    "amount_approved_minor",
    "payment",
]


def _approval_key(review: ProofReview) -> str:
    # One approval per proof, ever: a replay finds the first payment.
    return f"proof:{review.proof_id}:approval"


def _paid_at(proof: Any) -> Any:
    # The buyer's own date when the agent read one; never in the future (a misread year).
    return min(proof.paid_at or proof.created_at, timezone.now())


def _approval_amount(submission: Submission, review: ProofReview, amount_minor: int | None) -> int:
    amount = amount_minor if amount_minor is not None else review.proof.amount_minor
    if not amount or amount <= 0:
        raise _Refused(
            DecisionResult(
                submission_id=submission.pk,
                submission_code=submission.code,
                outcome=Outcome.INVALID,
                message="No amount was read from this proof: enter the amount received.",
                status=submission.status,
            )
        )
    return amount


def _approved(
    actor: Any,
    submission: Submission,
    review: ProofReview,
    payment: Payment,
    amount: int,
    settled: bool,
) -> DecisionResult:
    # What the money core moved it to (under the same lock): paid in full or in part.
    submission.status = SubmissionStatus.VERIFIED if settled else SubmissionStatus.PARTIALLY_PAID
    return DecisionResult(
        submission_id=submission.pk,
        submission_code=submission.code,
        outcome=Outcome.APPROVED,
        message=(
            f"Approved {format_money(amount, submission.currency)}: "
            f"{submission.get_status_display().lower()}."
        ),
        decided_by=_who(actor),
        decided_at=review.decided_at,
        payment_id=payment.pk,
        status=submission.status,
        proof_id=review.proof_id,
    )


def _approve_locked(
    *,
    actor: Any,
    submission: Submission,
    review: ProofReview,
    amount_minor: int | None,
) -> DecisionResult:
    amount = _approval_amount(submission, review, amount_minor)
    method = submission.payment_method
    payment = payment_record(
        actor=actor,
        buyer=submission.buyer,
        currency=submission.currency,
        amount_minor=amount,
        method_type=method.method_type if method else "",
        source=Payment.Source.PROOF,
        paid_at=_paid_at(review.proof),
        idempotency_key=_approval_key(review),
        # Less than due leaves the rest open (partially paid); more becomes store credit.
        allocations=[(submission, min(amount, submission.outstanding_minor))],
        group_order=submission.group_order,
        reference=review.reference,
        payment_method=method,
        source_reference=f"proof {review.proof_id}",
    )
    allocated = min(amount, submission.outstanding_minor)
    _finish(actor, review, ReviewState.APPROVED, amount_minor=amount, payment=payment)
    return _approved(
        actor, submission, review, payment, amount, allocated == submission.outstanding_minor
    )


def _reject_locked(
    *,
    actor: Any,
    submission: Submission,
    review: ProofReview,
    reason_code: str,
    reason_text: str,
    reupload: bool,
) -> DecisionResult:
    state = ReviewState.REUPLOAD_REQUESTED if reupload else ReviewState.REJECTED
    # The buyer reads this in the e-mail and on their order page: the reason, then the note.
    label = str(RejectReason(reason_code).label) if reason_code else ""
    note = ". ".join(part.rstrip(".") for part in (label, reason_text) if part) + "."
    submission_transition(
        actor=actor,
        submission=submission,
        target=SubmissionStatus.REJECTED,
        # The buyer's page already says "Rejected"; a new-proof request says so in the reason.
        notes=("New proof requested: " if reupload else "") + note,
    )
    _finish(actor, review, state, reason_code=reason_code, reason_text=reason_text)
    return DecisionResult(
        submission_id=submission.pk,
        submission_code=submission.code,
        outcome=Outcome.REUPLOAD_REQUESTED if reupload else Outcome.REJECTED,
        message=("A new proof was requested: " if reupload else "Rejected: ") + note,
        decided_by=_who(actor),
        decided_at=review.decided_at,
        status=SubmissionStatus.REJECTED,
        proof_id=review.proof_id,
    )


def _check_reason(reason_code: str, reason_text: str) -> str:
    reason_text = (reason_text or "").strip()
    if reason_code and reason_code not in RejectReason.values:
        raise ValueError(f"“{reason_code}” is not a rejection reason.")
    if not reason_code and not reason_text:
        raise ValueError("Give a reason: choose one or write a note for the buyer.")
    if reason_code == RejectReason.OTHER and not reason_text:
        raise ValueError("With “other”, write a note for the buyer.")
    if len(reason_text) > 500:
        raise ValueError("The note can be at most 500 characters.")
    return reason_text


def _decide(
    *,
    actor: Any,
    submission_id: int,
    action: str,
    expected_version: int | None,
    amount_minor: int | None = None,
    reason_code: str = "",
    reason_text: str = "",
    bulk: bool = False,
) -> DecisionResult:
    try:
        with transaction.atomic():
            submission, review = _lock(submission_id, expected_version)
            if action == "approve":
                if bulk:
                    _check_locked(submission, review, expected_version, bulk=True)
                return _approve_locked(
                    actor=actor,
                    submission=submission,
                    review=review,
                    amount_minor=amount_minor,
                )
            return _reject_locked(
                actor=actor,
                submission=submission,
                review=review,
                reason_code=reason_code,
                reason_text=reason_text,
                reupload=action == "reupload",
            )
    except _Refused as refused:
        return refused.result
    except PaymentsError as error:
        return DecisionResult(
            submission_id=submission_id, outcome=Outcome.INVALID, message=str(error)
        )
    finally:
        if not bulk:
            transaction.on_commit(queue_events.publish)


# A bulk approval locks and writes this many submissions per transaction: few enough that no
# row stays locked long, many enough that the statements per approval stay a handful.
APPROVAL_CHUNK = 200


def _approve_chunk(
    *, actor: Any, pks: list[int], versions: dict[int, int]
) -> tuple[dict[int, DecisionResult], list[int]]:
    """Approve a chunk of submissions in one transaction with the money core's batch path.

    The same locks (submissions, then their awaiting reviews, in id order), the same re-checks
    and the same rows as ``_decide`` one at a time. Returns the results and the ids to decide
    one at a time instead: overpayments (they become wallet credit) and replays of a key.
    """
    results: dict[int, DecisionResult] = {}
    alone: list[int] = []
    with transaction.atomic():
        submissions = Submission.objects.select_related("buyer", "group_order", "payment_method")
        reviews = ProofReview.objects.filter(submission_id__in=pks, state=ReviewState.AWAITING)
        if LOCK_DECISIONS:
            submissions = submissions.select_for_update(of=("self",))
            reviews = reviews.select_for_update(of=("self",))
        locked = {row.pk: row for row in submissions.filter(pk__in=pks).order_by("pk")}
        awaiting: dict[int, ProofReview] = {}
        for review in reviews.select_related("proof").order_by("pk"):
            awaiting.setdefault(review.submission_id, review)
        if RACE_WINDOW_SECONDS:
            time.sleep(RACE_WINDOW_SECONDS)
        replays = set(
            Payment.objects.filter(
                idempotency_key__in=[_approval_key(review) for review in awaiting.values()]
            ).values_list("idempotency_key", flat=True)
        )
        items, plans = [], {}
        for pk in pks:
            submission, review = locked.get(pk), awaiting.get(pk)
            if submission is None:
                results[pk] = DecisionResult(
                    submission_id=pk, outcome=Outcome.NOT_FOUND, message="No such submission."
                )
                continue
            try:
                _check_locked(submission, review, versions.get(pk), bulk=True)
                assert review is not None  # _check_locked refused a missing one
                amount = _approval_amount(submission, review, None)
            except _Refused as refused:
                results[pk] = refused.result
                continue
            if amount > submission.outstanding_minor or _approval_key(review) in replays:
                alone.append(pk)
                continue
            plans[pk] = (submission, review, amount)
            items.append(
                ProofPayment(
                    submission_id=pk,
                    amount_minor=amount,
                    paid_at=_paid_at(review.proof),
                    idempotency_key=_approval_key(review),
                    reference=review.reference,
                    source_reference=f"proof {review.proof_id}",
                )
            )
        recorded = payment_record_batch(actor=actor, items=items)
        decided, events = [], []
        for pk, (submission, review, amount) in plans.items():
            payment = recorded[pk]
            if isinstance(payment, PaymentsError):
                results[pk] = DecisionResult(
                    submission_id=pk, outcome=Outcome.INVALID, message=str(payment)
                )
                continue
            events.append(
                _decided(actor, review, ReviewState.APPROVED, amount_minor=amount, payment=payment)
            )
            decided.append(review)
            settled = payment.allocated_minor == submission.outstanding_minor
            results[pk] = _approved(actor, submission, review, payment, amount, settled)
        bulk_update_rows(decided, _DECISION_FIELDS)
        audit_record_many(events)
    return results, alone


def _scope(actor: Any, submission_id: int) -> DecisionResult | None:
    """Return the refusal for a submission the actor may not decide, or None when they may."""
    if submission_list_for_user(actor, access=Access.VERIFY).filter(pk=submission_id).exists():
        return None
    if submission_list_for_user(actor, access=Access.VIEW).filter(pk=submission_id).exists():
        return DecisionResult(
            submission_id=submission_id,
            outcome=Outcome.NOT_PERMITTED,
            message="You may look at this group order but not decide its payments.",
        )
    return DecisionResult(
        submission_id=submission_id, outcome=Outcome.NOT_FOUND, message="No such submission."
    )


def submission_approve(
    *,
    actor: Any,
    submission_id: int,
    expected_version: int | None = None,
    amount_minor: int | None = None,
) -> DecisionResult:
    """Approve the awaiting proof of a submission, recording the payment of ``amount_minor``.

    Without an amount, the amount read from the proof is used. Less than what is still due
    leaves the submission partially paid; more becomes store credit with this GOM.
    """
    if amount_minor is not None and (isinstance(amount_minor, bool) or amount_minor <= 0):
        return DecisionResult(
            submission_id=submission_id,
            outcome=Outcome.INVALID,
            message="The amount received must be more than zero.",
        )
    refused = _scope(actor, submission_id)
    if refused is not None:
        return refused
    return _decide(
        actor=actor,
        submission_id=submission_id,
        action="approve",
        expected_version=expected_version,
        amount_minor=amount_minor,
    )


def submission_reject(
    *,
    actor: Any,
    submission_id: int,
    reason_code: str = "",
    reason_text: str = "",
    expected_version: int | None = None,
    reupload: bool = False,
) -> DecisionResult:
    """Reject the awaiting proof with a reason the buyer is told (``reupload``: ask for a new one).

    Raises ValueError (nothing written) when the reason is missing or unknown.
    """
    reason_text = _check_reason(reason_code, reason_text)
    refused = _scope(actor, submission_id)
    if refused is not None:
        return refused
    return _decide(
        actor=actor,
        submission_id=submission_id,
        action="reupload" if reupload else "reject",
        expected_version=expected_version,
        reason_code=reason_code,
        reason_text=reason_text,
    )


BULK_ACTIONS = ("approve", "reject")
BULK_LIMIT = 1000


def submissions_decide_bulk(
    *,
    actor: Any,
    action: str,
    submission_ids: Iterable[int],
    reason_code: str = "",
    reason_text: str = "",
    expected_versions: dict[int, int] | None = None,
) -> list[DecisionResult]:
    """Approve or reject many submissions; return one result per id, in the order given.

    Rejections are decided one at a time, each in its own transaction; approvals go through the
    money core's batch path, ``APPROVAL_CHUNK`` submissions per transaction. Locks are taken in
    id order either way, so two bulk runs never deadlock, and a refusal of one never undoes
    another. Flagged duplicates and amount mismatches are not approved in bulk. Raises
    ValueError (nothing written) for an unknown action, a missing reason, or more than
    ``BULK_LIMIT`` ids.
    """
    if action not in BULK_ACTIONS:
        raise ValueError(f"The action is one of: {', '.join(BULK_ACTIONS)}.")
    ids = list(dict.fromkeys(int(pk) for pk in submission_ids))
    if not ids:
        raise ValueError("Choose at least one submission.")
    if len(ids) > BULK_LIMIT:
        raise ValueError(f"At most {BULK_LIMIT} submissions at once.")
    if action == "reject":
        reason_text = _check_reason(reason_code, reason_text)
    may_verify = set(
        submission_list_for_user(actor, access=Access.VERIFY)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )
    may_view = set(
        submission_list_for_user(actor, access=Access.VIEW)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )
    versions = expected_versions or {}
    results: dict[int, DecisionResult] = {}
    # Each row is its own transaction, taken in id order (two bulk runs never deadlock): a
    # refusal of one never undoes another, and no row stays locked for the whole run. (One
    # transaction for the run would hold every lock to the end and, through the money core's
    # savepoints, pass PostgreSQL's 64 cached subtransactions, which slows every query in it.)
    alone = []
    for pk in sorted(ids):
        if pk not in may_verify:
            results[pk] = DecisionResult(
                submission_id=pk,
                outcome=Outcome.NOT_PERMITTED if pk in may_view else Outcome.NOT_FOUND,
                message="Not permitted." if pk in may_view else "No such submission.",
            )
        else:
            alone.append(pk)
    if action == "approve":
        # The money core's batch path, a chunk per transaction; what it cannot take (credit
        # for an overpayment, a replay) is decided one at a time below.
        chunks = [alone[i : i + APPROVAL_CHUNK] for i in range(0, len(alone), APPROVAL_CHUNK)]
        alone = []
        for chunk in chunks:
            try:
                decided, rest = _approve_chunk(actor=actor, pks=chunk, versions=versions)
            except IntegrityError:
                # A payment key taken by a concurrent decision after the check (possible only
                # without the locks, in the concurrency test's control): one at a time instead.
                decided, rest = {}, chunk
            results.update(decided)
            alone += rest
    for pk in alone:
        results[pk] = _decide(
            actor=actor,
            submission_id=pk,
            action=action,
            expected_version=versions.get(pk),
            reason_code=reason_code,
            reason_text=reason_text,
            bulk=True,
        )
    transaction.on_commit(queue_events.publish)
    return [results[pk] for pk in ids]


def summarize(results: Sequence[DecisionResult]) -> dict[str, int]:
    """Count results per outcome, for the summary message."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts
