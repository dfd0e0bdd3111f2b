"""Run the fraud checks for a submission or a proof and record what they find.

A hit never blocks anything: it is a FraudLog row, an audit event, and a flag on the submission's
rows in the verification queue. Running a check again writes nothing new.
"""

from collections.abc import Callable, Iterable

from django.db import connection, transaction

from audit.services import audit_record
from fraud.models import FraudLog
from fraud.rules import PROOF_CHECKS, SUBMISSION_CHECKS, Hit
from payments.models import Submission
from verification.models import PaymentProof
from verification.services import review_set_fraud_hits

# Serialise the checks of one submission (see _record). Only the concurrency test turns it off,
# to show the race it prevents.
SERIALIZE_CHECKS = True


def fraud_check_submission(*, submission_id: int) -> list[FraudLog]:
    """Check a new submission (rate per buyer, amount); return the hits recorded now."""
    submission = Submission.objects.get(pk=submission_id)
    return _record(submission=submission, proof=None, checks=SUBMISSION_CHECKS, subject=submission)


def fraud_check_proof(*, proof_id: int) -> list[FraudLog]:
    """Check a proof (rate per buyer, shared file, shared reference); return the hits recorded now.

    Run after upload and again after the agent has read the proof, when its reference is known.
    """
    proof = PaymentProof.objects.select_related("submission").get(pk=proof_id)
    return _record(submission=proof.submission, proof=proof, checks=PROOF_CHECKS, subject=proof)


def _record(
    *,
    submission: Submission,
    proof: PaymentProof | None,
    checks: Iterable[Callable[..., list[Hit]]],
    subject: Submission | PaymentProof,
) -> list[FraudLog]:
    created: list[FraudLog] = []
    with transaction.atomic():
        if SERIALIZE_CHECKS and connection.vendor == "postgresql":
            # One check per submission at a time: two concurrent checks (the submission's and a
            # proof's) must each see the other's rows when they copy the set onto the queue.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"fraud:{submission.pk}"]
                )
        for check in checks:
            for hit in check(subject):
                log, is_new = FraudLog.objects.get_or_create(
                    rule=hit.rule,
                    submission=submission,
                    proof=proof,
                    defaults={
                        "buyer_id": submission.buyer_id,
                        "group_order_id": submission.group_order_id,
                        "details": hit.details,
                    },
                )
                if is_new:
                    created.append(log)
                    audit_record(
                        actor=None,
                        action="fraud.flagged",
                        target=log,
                        after={
                            "rule": hit.rule,
                            "submission": submission.code,
                            "proof": proof.pk if proof else None,
                            "details": hit.details,
                        },
                    )
        review_set_fraud_hits(submission_id=submission.pk, hits=queue_hits(submission.pk))
    return created


def queue_hits(submission_id: int) -> list[dict[str, str]]:
    """One entry per rule that hit the submission or one of its proofs, the latest one's summary."""
    latest: dict[str, str] = {}
    for log in FraudLog.objects.filter(submission_id=submission_id).order_by("created_at", "id"):
        latest[log.rule] = log.summary
    return [{"rule": rule, "summary": summary} for rule, summary in sorted(latest.items())]
