"""The triple match: a proof (as the agent read it), a statement line and the submission agree.

The verification queue asks ``statement_confirmation_for_submissions`` to show "confirmed by
statement". Group orders that opted in (``auto_approve_statement_confirmed``) are approved by the
system through ``payments.reconciliation.services.triple_match_approve``, which records the
decision and its evidence in the audit trail. ``triple_match_auto_approve_task`` runs after each
reconciliation run (sent by name from payments, which may not import this app) and after each
proof analysis (the Celery ``task_success`` hook below).
"""

from collections.abc import Iterable
from typing import Any

from celery import shared_task
from celery.signals import task_success
from django.db import transaction
from django.db.models import QuerySet

from payments.models import Submission, SubmissionStatus
from payments.reconciliation.models import StatementLine
from payments.reconciliation.selectors import Claim, statement_lines_for_claims
from payments.reconciliation.services import triple_match_approve
from verification.models import AnalysisStatus, PaymentProof

# Flags that make a proof unfit for a decision without a human, whatever the statement says.
_BLOCKING_FLAGS = frozenset({"duplicate_file", "duplicate_reference", "recipient_mismatch"})


def _latest_proofs(submission_ids: Iterable[int]) -> dict[int, PaymentProof]:
    latest: dict[int, PaymentProof] = {}
    proofs = (
        PaymentProof.objects.filter(
            submission_id__in=list(submission_ids), analysis_status=AnalysisStatus.DONE
        )
        .exclude(reference="")
        .exclude(amount_minor__isnull=True)
        .order_by("submission_id", "-created_at", "-id")
        .only(
            "id",
            "submission_id",
            "reference",
            "amount_minor",
            "currency",
            "flags",
            "confidence",
            "provider",
            "created_at",
        )
    )
    for proof in proofs:
        latest.setdefault(proof.submission_id, proof)
    return latest


def _claims(proofs: dict[int, PaymentProof]) -> list[Claim]:
    currencies = dict(Submission.objects.filter(pk__in=list(proofs)).values_list("pk", "currency"))
    return [
        Claim(
            submission_id=submission_id,
            reference=proof.reference,
            amount_minor=proof.amount_minor or 0,
            currency=proof.currency or currencies.get(submission_id, ""),
        )
        for submission_id, proof in proofs.items()
    ]


def statement_confirmation_for_submissions(
    submission_ids: Iterable[int],
) -> dict[int, StatementLine]:
    """Return ``{submission_id: StatementLine}`` for submissions confirmed by a statement."""
    proofs = _latest_proofs(submission_ids)
    if not proofs:
        return {}
    return statement_lines_for_claims(_claims(proofs))


def _pending_submissions(group_order_id: int | None) -> QuerySet[Submission]:
    queryset = Submission.objects.filter(
        status=SubmissionStatus.PROOF_SUBMITTED,
        group_order__auto_approve_statement_confirmed=True,
    )
    if group_order_id is not None:
        queryset = queryset.filter(group_order_id=group_order_id)
    return queryset


def auto_approve_confirmed(*, group_order_id: int | None = None, chunk: int = 500) -> int:
    """Approve as the system every opted-in submission the triple match confirms; count them."""
    approved = 0
    ids = list(_pending_submissions(group_order_id).values_list("pk", flat=True).order_by("pk"))
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        proofs = _latest_proofs(part)
        lines = statement_lines_for_claims(_claims(proofs))
        submissions = Submission.objects.in_bulk(list(lines))
        for submission_id, line in lines.items():
            proof = proofs[submission_id]
            if set(proof.flag_codes) & _BLOCKING_FLAGS:
                continue
            evidence: dict[str, Any] = {
                "proof": proof.pk,
                "proof_reference": proof.reference,
                "proof_amount_minor": proof.amount_minor,
                "proof_provider": proof.provider,
                "agent_confidence": float(proof.confidence) if proof.confidence else None,
                "statement": line.statement_id,
                "statement_line": line.pk,
                "line_reference": line.reference,
                "line_amount_minor": line.amount_minor,
                "line_posted_at": line.posted_at.isoformat(),
                "amount_due_minor": submissions[submission_id].outstanding_minor,
            }
            payment = triple_match_approve(
                submission=submissions[submission_id],
                line=line,
                proof_id=proof.pk,
                reference=proof.reference,
                amount_minor=proof.amount_minor or 0,
                evidence=evidence,
            )
            approved += payment is not None
    return approved


@shared_task(name="verification.triple_match_auto_approve", acks_late=True)
def triple_match_auto_approve_task(group_order_id: int | None = None) -> int:
    return auto_approve_confirmed(group_order_id=group_order_id)


@task_success.connect
def _after_proof_analysis(sender: Any = None, result: Any = None, **kwargs: Any) -> None:
    # Wiring only: when the agent has read a proof, see whether its order can be auto-approved.
    if getattr(sender, "name", "") != "verification.tasks.analyze_proof_task":
        return
    transaction.on_commit(lambda: triple_match_auto_approve_task.delay())
