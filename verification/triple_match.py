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
from django.db import connection, transaction
from django.db.models import QuerySet

from core.sql_names import column, table
from payments.models import GroupOrder, Submission, SubmissionStatus
from payments.reconciliation.models import StatementLine
from payments.reconciliation.selectors import (
    Claim,
    ClaimTarget,
    confirmed_claims,
    statement_lines_for_claims,
)
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


def _latest_claims_sql(count: int) -> str:
    def proof(field: str) -> str:
        return column(PaymentProof, field, "p")

    def submission(field: str) -> str:
        return column(Submission, field, "s")

    return (
        f"SELECT {proof('submission')}, {proof('reference')}, {proof('amount_minor')},"  # noqa: S608 (names from the models)
        f" {proof('currency')}, {submission('status')}, {submission('amount_due_minor')},"
        f" {submission('paid_minor')}, {submission('currency')}, {column(GroupOrder, 'owner', 'o')}"
        f" FROM {table(PaymentProof, 'p')}"
        f" JOIN {table(Submission, 's')} ON s.id = {proof('submission')}"
        f" JOIN {table(GroupOrder, 'o')} ON o.id = {submission('group_order')}"
        f" WHERE {proof('submission')} IN ({', '.join(['%s'] * count)})"
        f" AND {proof('analysis_status')} = %s AND {proof('reference')} <> ''"
        f" AND {proof('amount_minor')} IS NOT NULL"
        f" ORDER BY {proof('submission')}, {proof('created_at')} DESC, p.id DESC"
    )


def statement_confirmed_submission_ids(submission_ids: Iterable[int]) -> set[int]:
    """Return which of these submissions a statement line confirms: the queue's badge.

    The same answer as ``statement_confirmation_for_submissions`` (tests hold them equal) in
    two hand-written statements of plain values, as the queue page asks it on every load: the
    latest readable proof of each submission with what its submission owes, then the lines.
    """
    ids = list(submission_ids)
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_latest_claims_sql(len(ids)), [*ids, AnalysisStatus.DONE.value])
        rows = cursor.fetchall()
    claims: dict[int, tuple[Claim, ClaimTarget]] = {}
    for sid, reference, amount, currency, status, due, paid, sub_currency, owner in rows:
        if sid in claims:  # an older proof of the same submission
            continue
        claims[sid] = (
            Claim(sid, reference, amount, currency or sub_currency),
            ClaimTarget(status, due - paid, owner, sub_currency),
        )
    return confirmed_claims(list(claims.values()))


def statement_confirmed_queue_rows(
    rows: Iterable[dict[str, Any]], owners: dict[int, int]
) -> set[int]:
    """The queue's badge from its rows (``review_queue_page``), which carry their proof, their
    submission and the id of the submission's latest readable proof: one statement (the lines)
    when a row's proof is that latest one, as in the awaiting queue; other rows' submissions go
    through ``statement_confirmed_submission_ids``. ``owners``: group order id -> GOM."""
    claims: dict[int, tuple[Claim, ClaimTarget]] = {}
    elsewhere: set[int] = set()
    for row in rows:
        sid = row["submission_id"]
        if row["claim_proof_id"] is None or sid in claims:
            continue
        if row["claim_proof_id"] != row["proof_id"]:
            elsewhere.add(sid)  # an older proof's row: the claim is another proof's
            continue
        currency = row["submission_currency"]
        claims[sid] = (
            Claim(
                sid,
                row["proof_reference"],
                row["amount_read_minor"],
                row["proof_currency"] or currency,
            ),
            ClaimTarget(
                row["submission_status"],
                row["amount_due_minor"] - row["paid_minor"],
                owners[row["group_order_id"]],
                currency,
            ),
        )
    confirmed = confirmed_claims(list(claims.values()))
    if elsewhere - claims.keys():
        confirmed |= statement_confirmed_submission_ids(elsewhere - claims.keys())
    return confirmed


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
