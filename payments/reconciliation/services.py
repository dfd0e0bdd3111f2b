"""Finance's decisions on reconciliation, and the system's triple-match approval.

    discrepancy_link(*, actor, discrepancy, line, payment, reason) -> Discrepancy
    discrepancy_close(*, actor, discrepancy, reason) -> Discrepancy
    suggestion_confirm(*, actor, match) -> StatementMatch
    triple_match_approve(*, submission, line, proof_id, reference, amount_minor, evidence)
        -> Payment | None
    export_record(*, actor, kind, file_format, filters, row_count=None) -> None

Lock order: StatementLine → Discrepancy → (payment_record's own order: Payment → Submissions).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from payments.exceptions import PaymentRuleViolation
from payments.models import Payment, Submission, SubmissionStatus
from payments.money.services import payment_record
from payments.reconciliation.models import Discrepancy, StatementLine, StatementMatch


class ReconciliationError(PaymentRuleViolation):
    """A reconciliation decision that cannot be made; nothing was written."""


def _check_reason(reason: str) -> str:
    cleaned = (reason or "").strip()
    if len(cleaned) < 5:
        raise ReconciliationError("Say why, in a few words (at least 5 characters).")
    return cleaned[:300]


def _lock_discrepancy(discrepancy: Discrepancy) -> Discrepancy:
    return Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)


def discrepancy_close(*, actor: Any, discrepancy: Discrepancy, reason: str) -> Discrepancy:
    """Close a discrepancy with a reason (a bank fee, a test transfer, money returned)."""
    cleaned = _check_reason(reason)
    with transaction.atomic():
        locked = _lock_discrepancy(discrepancy)
        if locked.status != Discrepancy.Status.OPEN:
            return locked
        locked.status = Discrepancy.Status.CLOSED
        locked.resolution_reason = cleaned
        locked.resolved_by = actor
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolution_reason", "resolved_by", "resolved_at"])
        audit_record(
            actor=actor,
            action="discrepancy.closed",
            target=locked,
            before={"status": Discrepancy.Status.OPEN},
            after={"status": locked.status, "reason": cleaned, "kind": locked.kind},
        )
    return locked


def discrepancy_link(
    *,
    actor: Any,
    discrepancy: Discrepancy,
    line: StatementLine,
    payment: Payment,
    reason: str,
) -> Discrepancy:
    """Resolve a discrepancy by linking a statement line to a payment by hand."""
    cleaned = _check_reason(reason)
    if line.payment_method_id != discrepancy.payment_method_id:
        raise ReconciliationError("That statement line is from another account.")
    if line.direction != StatementLine.Direction.CREDIT:
        raise ReconciliationError("Only money that came in can be linked to a payment.")
    if payment.status != Payment.Status.RECORDED:
        raise ReconciliationError("A voided payment cannot be linked.")
    with transaction.atomic():
        locked_line = StatementLine.objects.select_for_update().get(pk=line.pk)
        locked = _lock_discrepancy(discrepancy)
        if locked.status != Discrepancy.Status.OPEN:
            return locked
        StatementMatch.objects.update_or_create(
            line=locked_line,
            payment=payment,
            defaults={
                "kind": StatementMatch.Kind.MANUAL,
                "status": StatementMatch.Status.CONFIRMED,
                "created_by": actor,
            },
        )
        locked_line.match_status = StatementLine.MatchStatus.MATCHED
        locked_line.save(update_fields=["match_status"])
        locked.status = Discrepancy.Status.LINKED
        locked.resolution_reason = cleaned
        locked.resolved_by = actor
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolution_reason", "resolved_by", "resolved_at"])
        audit_record(
            actor=actor,
            action="discrepancy.linked",
            target=locked,
            before={"status": Discrepancy.Status.OPEN},
            after={
                "status": locked.status,
                "reason": cleaned,
                "kind": locked.kind,
                "line": locked_line.pk,
                "payment": payment.pk,
            },
        )
    return locked


def suggestion_confirm(*, actor: Any, match: StatementMatch) -> StatementMatch:
    """Confirm a suggested match (amount + date + name) after a human looked at it."""
    with transaction.atomic():
        line = StatementLine.objects.select_for_update().get(pk=match.line_id)
        locked = StatementMatch.objects.select_for_update().get(pk=match.pk)
        if locked.status == StatementMatch.Status.CONFIRMED:
            return locked
        locked.status = StatementMatch.Status.CONFIRMED
        locked.created_by = actor
        locked.save(update_fields=["status", "created_by"])
        line.match_status = StatementLine.MatchStatus.MATCHED
        line.save(update_fields=["match_status"])
        audit_record(
            actor=actor,
            action="statement_match.confirmed",
            target=line,
            after={"payment": locked.payment_id, "kind": locked.kind},
        )
    return locked


def triple_match_approve(
    *,
    submission: Submission,
    line: StatementLine,
    proof_id: int,
    reference: str,
    amount_minor: int,
    evidence: dict[str, Any],
) -> Payment | None:
    """Approve a submission as the system because proof, statement line and amount due agree.

    Only for a group order that opted in. Records the payment (source proof) with the statement
    line's posting time, links it to the line, and audits the decision with its evidence, all in
    one transaction. Returns None, writing nothing, when anything no longer agrees (a human
    decided first, the line was used for another payment, the order opted out).
    """
    with transaction.atomic():
        locked_line = StatementLine.objects.select_for_update().get(pk=line.pk)
        if locked_line.match_status == StatementLine.MatchStatus.MATCHED:
            return None
        current = Submission.objects.select_related("group_order", "payment_method").get(
            pk=submission.pk
        )
        order = current.group_order
        if not order.auto_approve_statement_confirmed:
            return None
        if current.status != SubmissionStatus.PROOF_SUBMITTED:
            return None
        if (
            amount_minor != current.outstanding_minor
            or locked_line.amount_minor != amount_minor
            or locked_line.currency != current.currency
        ):
            return None
        account = locked_line.payment_method
        if account.owner_id != order.owner_id:
            return None
        method = current.payment_method
        paid_at: datetime = min(locked_line.posted_at, timezone.now())
        try:
            payment = payment_record(
                actor=None,
                buyer=current.buyer,
                currency=current.currency,
                amount_minor=amount_minor,
                method_type=(method.method_type if method else account.method_type),
                source=Payment.Source.PROOF,
                paid_at=paid_at,
                idempotency_key=f"triple-match:proof:{proof_id}",
                allocations=[(current, amount_minor)],
                reference=reference,
                payment_method=method if method and method.owner_id == order.owner_id else None,
                source_reference=f"proof:{proof_id}",
            )
        except PaymentRuleViolation:
            return None
        StatementMatch.objects.get_or_create(
            line=locked_line,
            payment=payment,
            defaults={
                "kind": StatementMatch.Kind.TRIPLE,
                "status": StatementMatch.Status.CONFIRMED,
            },
        )
        locked_line.match_status = StatementLine.MatchStatus.MATCHED
        locked_line.save(update_fields=["match_status"])
        audit_record(
            actor=None,
            action="submission.auto_approved",
            target=current,
            before={"status": SubmissionStatus.PROOF_SUBMITTED},
            after={
                "status": Submission.objects.get(pk=current.pk).status,
                "decided_by": "system: confirmed by statement",
                "payment": payment.pk,
                "evidence": evidence,
            },
        )
    return payment


def export_record(
    *, actor: Any, kind: str, file_format: str, filters: dict[str, Any], row_count: int | None
) -> None:
    """Audit an export with who asked, what, in which format and with which filters."""
    audit_record(
        actor=actor,
        action=f"export.{kind}",
        after={"format": file_format, "filters": filters, "rows": row_count},
    )
