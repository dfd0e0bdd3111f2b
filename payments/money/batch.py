"""Record the payments of many approved proofs at once: the money path of a bulk approval.

``payment_record`` writes one payment with some twenty statements; a GOM approving a thousand
proofs would wait twenty seconds. This writes the same rows for a whole batch with a constant
number of statements: it locks the submissions (one query), re-checks each with the same rules
as ``payment_record`` (``check_payment``, ``check_payable``), then inserts the payments, their
allocations, history and audit rows, the buyers' e-mails (outbox) and the webhook deliveries
in bulk, all in the caller's transaction.

It takes only the plain case, which is nearly every bulk approval: one proof paying at most
what its submission still owes. What is left over becomes wallet credit, and a key used before
means a replay; callers send those through ``payment_record``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.services import audit_event, audit_record_many
from core.bulk_sql import bulk_update_rows
from core.money import format_money
from payments.events import emit_payments_recorded, emit_submissions_decided
from payments.exceptions import PaymentRuleViolation
from payments.models import FeeRule, Payment, PaymentAllocation, Submission, SubmissionStatus
from payments.money.fees import fee_compute, feerule_in_force, local_date
from payments.money.services import (
    PAYABLE_STATES,
    IdempotencyConflict,
    check_payable,
    check_payment,
    settled_status,
)
from payments.notifications import notify_buyers_on_commit
from payments.services import BUYER_EMAIL_ON


@dataclass(frozen=True)
class ProofPayment:
    """One approved proof's payment: ``amount_minor`` pays ``submission_id`` (no more than due)."""

    submission_id: int
    amount_minor: int
    paid_at: datetime
    idempotency_key: str
    reference: str = ""
    source_reference: str = ""


def _is_person(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def payment_record_batch(
    *, actor: Any, items: Sequence[ProofPayment]
) -> dict[int, Payment | PaymentRuleViolation]:
    """Record each item's payment; return, per submission id, its payment or why it was refused.

    Must run inside the caller's transaction (a refusal of one item writes nothing for it and
    never undoes another); a key used already is a refusal. Raises ValueError for an item that
    is not the plain case (more than the submission still owes) or a key given twice.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_record_batch runs inside the caller's transaction.")
    if not items:
        return {}
    keys = [item.idempotency_key for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("Each payment of a batch needs its own idempotency key.")
    # Locked in primary-key order, as every money service does (no deadlock with them).
    locked = {
        row.pk: row
        for row in Submission.objects.select_for_update(of=("self",))
        .select_related("group_order", "buyer", "payment_method")
        .filter(pk__in=[item.submission_id for item in items])
        .order_by("pk")
    }
    # Looked up under the locks: a payment recorded meanwhile is a refusal, not a second one.
    used = set(
        Payment.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    outcome: dict[int, Payment | PaymentRuleViolation] = {}
    accepted: list[tuple[ProofPayment, Submission]] = []
    for item in items:
        row = locked[item.submission_id]
        if item.idempotency_key in used:
            outcome[row.pk] = IdempotencyConflict("This payment was recorded already.")
            continue
        if item.amount_minor > row.outstanding_minor and row.status in PAYABLE_STATES:
            raise ValueError("An overpayment becomes credit; record it through payment_record.")
        try:
            check_payment(
                buyer=row.buyer,
                group_order=row.group_order,
                currency=row.currency,
                amount_minor=item.amount_minor,
                source=Payment.Source.PROOF,
                paid_at=item.paid_at,
                payment_method=row.payment_method,
                requested=[(row, item.amount_minor)],
            )
            check_payable(row, item.amount_minor, row.currency)
        except PaymentRuleViolation as refused:
            outcome[row.pk] = refused
            continue
        accepted.append((item, row))
    payments = _insert_payments(actor, accepted)
    _settle(actor, accepted, payments)
    outcome.update({row.pk: payment for (_, row), payment in zip(accepted, payments, strict=True)})
    return outcome


def _insert_payments(actor: Any, accepted: list[tuple[ProofPayment, Submission]]) -> list[Payment]:
    rules: dict[tuple[str, str, date], FeeRule | None] = {}
    payments = []
    for item, row in accepted:
        method_type = row.payment_method.method_type if row.payment_method else ""
        on = (method_type, row.currency, local_date(item.paid_at, row.currency))
        if on not in rules:
            rules[on] = feerule_in_force(method_type=on[0], currency=on[1], on=on[2])
        payments.append(
            Payment(
                group_order=row.group_order,
                buyer=row.buyer,
                currency=row.currency,
                amount_minor=item.amount_minor,
                allocated_minor=item.amount_minor,
                credited_minor=0,
                fee_minor=fee_compute(rule=rules[on], amount_minor=item.amount_minor),
                fee_rule=rules[on],
                source=Payment.Source.PROOF,
                source_reference=item.source_reference[:100],
                method_type=method_type,
                payment_method=row.payment_method,
                reference=item.reference.strip()[:64],
                paid_at=item.paid_at,
                idempotency_key=item.idempotency_key,
                recorded_by=actor if _is_person(actor) else None,
            )
        )
    user = actor if _is_person(actor) else None
    payments = bulk_create_with_history(payments, Payment, default_user=user)
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(payment=payment, submission=row, amount_minor=item.amount_minor)
        for (item, row), payment in zip(accepted, payments, strict=True)
    )
    return payments


_SETTLED_FIELDS = [
    "paid_minor",
    "status",
    "version",
    "verification_notes",
    "verified_by",
    "verified_at",
    "updated_at",
]


def _settle(
    actor: Any, accepted: list[tuple[ProofPayment, Submission]], payments: list[Payment]
) -> None:
    """Move what each submission has paid and its state, as ``_move_paid`` and
    ``submission_transition`` do one at a time: one history row and one audit event each."""
    now = timezone.now()
    events = []
    emails: dict[str, list[int]] = {}
    decided = []
    for (item, row), payment in zip(accepted, payments, strict=True):
        row.paid_minor += item.amount_minor
        row.updated_at = now
        note = f"Payment #{payment.pk}: {format_money(item.amount_minor, row.currency)}"
        events.append(
            audit_event(
                actor=actor,
                action="payment.recorded",
                target=payment,
                after={
                    "amount_minor": payment.amount_minor,
                    "currency": payment.currency,
                    "source": payment.source,
                    "fee_minor": payment.fee_minor,
                    "allocations": {row.code: item.amount_minor},
                    "credited_minor": 0,
                    "reference": payment.reference,
                },
            )
        )
        target = settled_status(row)
        if target == row.status:
            continue
        previous = row.apply_transition(target)
        row.verification_notes = note
        if target == SubmissionStatus.VERIFIED:
            row.verified_by = actor if _is_person(actor) else None
            row.verified_at = now
            decided.append(row)
        row._change_reason = note  # type: ignore[attr-defined]
        events.append(
            audit_event(
                actor=actor,
                action="submission.state_changed",
                target=row,
                before={"status": previous, "version": row.version - 1},
                after={"status": target, "version": row.version, "notes": note},
            )
        )
        emails.setdefault(BUYER_EMAIL_ON[target], []).append(row.pk)
    rows = [row for _, row in accepted]
    bulk_update_rows(rows, _SETTLED_FIELDS)
    Submission.history.bulk_history_create(  # type: ignore[attr-defined]
        rows, update=True, default_user=actor if _is_person(actor) else None
    )
    audit_record_many(events)
    for kind, submission_ids in emails.items():
        notify_buyers_on_commit(kind, submission_ids)
    emit_submissions_decided(decided)
    emit_payments_recorded(payments)
