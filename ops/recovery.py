"""Stuck-payment recovery: find what waits too long, move it on, and say what was found and done.

Each rule is one function over one kind of row; `recover_stuck` runs them all (every 10 minutes
in beat) and returns a report. Nothing here decides a payment: analyses are retried or handed
to people, buyers and GOMs are reminded, and only unpaid submissions past their deadline expire.
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db.models import Count
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from outbox.models import Message
from payments.models import Refund, Submission
from payments.notifications import remind_buyer_once, remind_gom_once
from payments.services import submission_transition
from verification.models import AnalysisStatus, PaymentProof
from verification.recovery import proof_analysis_give_up
from webhooks.models import Delivery

logger = logging.getLogger(__name__)
MAX_ANALYSIS_REQUEUES = 3
_S = Submission.Status


@dataclass
class RecoveryReport:
    analyses_requeued: list[int] = field(default_factory=list)
    analyses_given_up: list[int] = field(default_factory=list)
    proofs_past_sla: int = 0
    goms_reminded: list[int] = field(default_factory=list)
    buyers_reminded: list[str] = field(default_factory=list)
    submissions_expired: list[str] = field(default_factory=list)
    other_stuck: dict[str, int] = field(default_factory=dict)
    alerted: bool = False

    @property
    def stuck_total(self) -> int:
        return (
            len(self.analyses_requeued)
            + len(self.analyses_given_up)
            + self.proofs_past_sla
            + sum(self.other_stuck.values())
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stuck_total": self.stuck_total}


def _retry_stuck_analyses(now: datetime, report: RecoveryReport) -> None:
    cutoff = now - timedelta(minutes=settings.ANALYSIS_STUCK_MINUTES)
    stuck = list(
        PaymentProof.objects.filter(analysis_status=AnalysisStatus.PENDING, created_at__lt=cutoff)
    )
    if not stuck:
        return
    # How often each was queued again already: the audit trail is the counter.
    tries = dict(
        AuditEvent.objects.filter(
            action="proof.analysis_requeued", object_id__in=[str(p.pk) for p in stuck]
        )
        .values_list("object_id")
        .annotate(count=Count("id"))
    )
    from verification.tasks import analyze_proof_task

    for proof in stuck:
        if tries.get(str(proof.pk), 0) >= MAX_ANALYSIS_REQUEUES:
            proof_analysis_give_up(
                actor=None,
                proof=proof,
                reason=f"The analysis did not finish after {MAX_ANALYSIS_REQUEUES} tries; "
                "review this proof by hand.",
            )
            report.analyses_given_up.append(proof.pk)
            continue
        audit_record(actor=None, action="proof.analysis_requeued", target=proof)
        proof_id = proof.pk
        analyze_proof_task.delay(proof_id)
        report.analyses_requeued.append(proof.pk)


def _remind_about_overdue_proofs(now: datetime, report: RecoveryReport) -> None:
    cutoff = now - timedelta(hours=settings.VERIFICATION_SLA_HOURS)
    per_order = (
        Submission.objects.filter(status=_S.PROOF_SUBMITTED, updated_at__lt=cutoff)
        .values("group_order_id")
        .annotate(waiting=Count("id"))
    )
    day = timezone.localdate(now).isoformat()
    for row in per_order:
        report.proofs_past_sla += row["waiting"]
        if remind_gom_once(order_id=row["group_order_id"], waiting=row["waiting"], day=day):
            report.goms_reminded.append(row["group_order_id"])


def _remind_and_expire_payments(now: datetime, report: RecoveryReport) -> None:
    soon = now + timedelta(hours=settings.PAYMENT_REMINDER_HOURS)
    unpaid = (_S.PENDING_PAYMENT, _S.PARTIALLY_PAID, _S.REJECTED)
    for submission in Submission.objects.filter(
        status__in=unpaid,
        group_order__payment_deadline__gt=now,
        group_order__payment_deadline__lte=soon,
    ).select_related("group_order"):
        if remind_buyer_once(submission):
            report.buyers_reminded.append(submission.code)
    grace_end = now - timedelta(hours=settings.PAYMENT_GRACE_HOURS)
    for submission in Submission.objects.filter(
        status=_S.PENDING_PAYMENT, group_order__payment_deadline__lt=grace_end
    ):
        submission_transition(
            actor=None,
            submission=submission,
            target=_S.EXPIRED,
            notes="Not paid by the payment deadline (and its grace period).",
        )
        report.submissions_expired.append(submission.code)


def _report_other_stuck(now: datetime, report: RecoveryReport) -> None:
    hour_ago = now - timedelta(hours=1)
    counts = {
        # Past the deadline with money missing: the GOM must decide (extend, cancel, refund).
        "unpaid_after_deadline": Submission.objects.filter(
            status__in=(_S.PARTIALLY_PAID, _S.REJECTED),
            group_order__payment_deadline__lt=now - timedelta(hours=settings.PAYMENT_GRACE_HOURS),
        ).count(),
        "refunds_approved_not_paid": Refund.objects.filter(
            status=Refund.Status.APPROVED, processed_at__lt=now - timedelta(days=7)
        ).count(),
        "messages_not_delivered": Message.objects.filter(
            delivered_at__isnull=True, created_at__lt=hour_ago
        ).count(),
        "webhooks_given_up": Delivery.objects.filter(
            status=Delivery.Status.FAILED, finished_at__gte=now - timedelta(days=1)
        ).count(),
    }
    report.other_stuck = {name: count for name, count in counts.items() if count}


def recover_stuck(*, now: datetime | None = None) -> RecoveryReport:
    """Run every recovery rule once; alert when more than the threshold is stuck."""
    moment = now or timezone.now()
    report = RecoveryReport()
    _retry_stuck_analyses(moment, report)
    _remind_about_overdue_proofs(moment, report)
    _remind_and_expire_payments(moment, report)
    _report_other_stuck(moment, report)
    summary = report.as_dict()
    logger.info("stuck-payment recovery: %s", summary)
    if report.stuck_total > settings.ALERT_STUCK_PAYMENTS_MAX:
        report.alerted = True
        summary["alerted"] = True
        audit_record(actor=None, action="ops.stuck_payments_alert", after=summary)
        logger.error(
            "ALERT: %d stuck payments (threshold %d): %s",
            report.stuck_total,
            settings.ALERT_STUCK_PAYMENTS_MAX,
            summary,
        )
        mail_admins(
            f"{report.stuck_total} stuck payments",
            "\n".join(f"{key}: {value}" for key, value in summary.items()),
            fail_silently=True,
        )
    return report
