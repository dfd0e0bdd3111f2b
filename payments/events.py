"""The webhook events the payments app announces, built from the rows they are about.

Called inside the service's transaction: the deliveries are written with the change.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from payments.models import Payment, Refund, Submission
from payments.notifications import is_silenced
from webhooks import services as webhooks
from webhooks.models import EventType


def webhook_emit(*, owner_id: int, event_type: str, data: Callable[[], dict[str, Any]]) -> None:
    webhook_emit_many(owner_id=owner_id, event_type=event_type, datas=[data])


def webhook_emit_many(
    *, owner_id: int, event_type: str, datas: Sequence[Callable[[], dict[str, Any]]]
) -> None:
    # History brought across by an import is not news to anyone's systems.
    if not is_silenced():
        webhooks.webhook_emit_many(owner_id=owner_id, event_type=event_type, datas=datas)


def _submission_data(submission: Submission) -> dict[str, object]:
    return {
        "submission": submission.code,
        "group_order_id": submission.group_order_id,
        "status": submission.status,
        "currency": submission.currency,
        "amount_due_minor": submission.amount_due_minor,
        "paid_minor": submission.paid_minor,
        "refunded_minor": submission.refunded_minor,
    }


def emit_submission_decided(submission: Submission) -> None:
    emit_submissions_decided([submission])


def emit_submissions_decided(submissions: Sequence[Submission]) -> None:
    """Announce verified or rejected submissions (any mix, any owners)."""
    groups: dict[tuple[int, str], list[Callable[[], dict[str, Any]]]] = {}
    for submission in submissions:
        event = {
            Submission.Status.VERIFIED: EventType.SUBMISSION_VERIFIED,
            Submission.Status.REJECTED: EventType.SUBMISSION_REJECTED,
        }[submission.status]
        key = (submission.group_order.owner_id, event)
        groups.setdefault(key, []).append(partial(_decided_data, submission))
    for (owner_id, event), datas in groups.items():
        webhook_emit_many(owner_id=owner_id, event_type=event, datas=datas)


def _decided_data(submission: Submission) -> dict[str, object]:
    built = _submission_data(submission)
    if submission.status == Submission.Status.REJECTED:
        built["reason"] = submission.verification_notes
    return built


def emit_payment_recorded(payment: Payment) -> None:
    emit_payments_recorded([payment])


def emit_payments_recorded(payments: Sequence[Payment]) -> None:
    groups: dict[int, list[Callable[[], dict[str, Any]]]] = {}
    for payment in payments:
        groups.setdefault(payment.group_order.owner_id, []).append(partial(_payment_data, payment))
    for owner_id, datas in groups.items():
        webhook_emit_many(owner_id=owner_id, event_type=EventType.PAYMENT_RECORDED, datas=datas)


def _payment_data(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": payment.pk,
        "group_order_id": payment.group_order_id,
        "source": payment.source,
        "currency": payment.currency,
        "amount_minor": payment.amount_minor,
        "fee_minor": payment.fee_minor,
        "reference": payment.reference,
        "paid_at": payment.paid_at.isoformat(),
        "allocations": {
            allocation.submission.code: allocation.amount_minor
            for allocation in payment.allocations.select_related("submission")
        },
    }


def emit_refund_paid(refund: Refund, submission: Submission) -> None:
    webhook_emit(
        owner_id=submission.group_order.owner_id,
        event_type=EventType.REFUND_PAID,
        data=lambda: {
            "refund_id": refund.pk,
            "payment_id": refund.payment_id,
            "submission": submission.code,
            "destination": refund.destination,
            "currency": refund.currency,
            "amount_minor": refund.amount_minor,
        },
    )
