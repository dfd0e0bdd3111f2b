"""Every write that moves money: payments and their allocations, wallet credit, refunds.

The API the rest of the project calls (verification records a verified proof with
``payment_record(source=Payment.Source.PROOF, ...)``):

    payment_record(*, actor, buyer, group_order, currency, amount_minor, method_type, source,
                   paid_at, idempotency_key, allocations=None, reference="", ...) -> Payment
    payment_void(*, actor, payment, reason) -> Payment
    payment_correct_amount(*, actor, payment, amount_minor, reason) -> Payment
    wallet_apply_credit(*, actor, submission, idempotency_key, amount_minor=None) -> Payment
    refund_request(*, actor, payment, amount_minor, destination, reason, idempotency_key,
                   submission=None, details="") -> Refund
    refund_approve / refund_reject / refund_mark_paid(*, actor, refund, ...) -> Refund

Rows are always locked in one order so two services never wait on each other in a circle:
Refund → Payment → Submissions (by primary key) → Wallet → CreditGrants.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import audit_record
from core.money import format_money, percent_of
from payments.events import emit_payment_recorded, emit_refund_paid
from payments.exceptions import PaymentRuleViolation
from payments.models import (
    REFUND_TRANSITIONS,
    GroupOrder,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Refund,
    RefundReason,
    Submission,
    SubmissionStatus,
)
from payments.money.fees import fee_compute, feerule_in_force, local_date
from payments.notifications import notify_buyer_on_commit
from payments.services import submission_transition
from wallet import services as wallet_services
from wallet.exceptions import InsufficientCredit
from wallet.models import CreditGrant

# The refund race test flips this to show the over-refund the payment row lock prevents.
REFUND_LOCKING = True

PAYABLE_STATES = frozenset(
    {
        SubmissionStatus.PENDING_PAYMENT,
        SubmissionStatus.PROOF_SUBMITTED,
        SubmissionStatus.PARTIALLY_PAID,
    }
)
REFUNDABLE_STATES = frozenset(
    {
        SubmissionStatus.VERIFIED,
        SubmissionStatus.PARTIALLY_PAID,
        SubmissionStatus.PARTIALLY_REFUNDED,
    }
)
# A payment recorded with a paid-at this far in the future is a typo, not a payment.
_CLOCK_SKEW = timedelta(minutes=5)


class IdempotencyConflict(PaymentRuleViolation):
    """The key was used before for a different request; nothing was written."""


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_amount(amount_minor: object, currency: str) -> int:
    if not _is_positive_int(amount_minor):
        raise PaymentRuleViolation("An amount must be a positive whole number of minor units.")
    limit = settings.PAYMENT_LIMITS_MINOR[currency]
    if amount_minor > limit:  # type: ignore[operator]
        raise PaymentRuleViolation(f"One payment can be at most {format_money(limit, currency)}.")
    return amount_minor  # type: ignore[return-value]


def settled_status(submission: Submission) -> str:
    if submission.paid_minor == 0:
        return SubmissionStatus.PENDING_PAYMENT
    if submission.paid_minor == submission.amount_due_minor:
        return SubmissionStatus.VERIFIED
    return SubmissionStatus.PARTIALLY_PAID


def _move_paid(*, actor: Any, submission: Submission, delta: int, notes: str) -> Submission:
    """Change what a locked submission has paid and move its state to match, in one step."""
    submission.paid_minor += delta
    submission.save(update_fields=["paid_minor", "updated_at"])
    target = settled_status(submission)
    if target == submission.status:
        return submission
    if submission.status == SubmissionStatus.PROOF_SUBMITTED and target == (
        SubmissionStatus.PENDING_PAYMENT
    ):
        # A proof still awaits review; voiding an earlier payment does not withdraw it.
        return submission
    return submission_transition(actor=actor, submission=submission, target=target, notes=notes)


def _lock_submissions(pks: Sequence[int]) -> dict[int, Submission]:
    return {
        row.pk: row
        for row in Submission.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    }


def _same_payment(existing: Payment, *, buyer: Any, amount_minor: int, currency: str) -> Payment:
    if (existing.buyer_id, existing.amount_minor, existing.currency) != (
        buyer.pk,
        amount_minor,
        currency,
    ):
        raise IdempotencyConflict("This idempotency key was already used for a different payment.")
    return existing


def _overpayment_key(payment: Payment, generation: int = 0) -> str:
    return f"payment:{payment.pk}:overpayment" + (f":{generation}" if generation else "")


def check_payment(
    *,
    buyer: Any,
    group_order: GroupOrder,
    currency: str,
    amount_minor: int,
    source: str,
    paid_at: datetime,
    payment_method: PaymentMethod | None,
    requested: Sequence[tuple[Submission, int]],
) -> None:
    """The rules a payment must meet before anything is locked; raise PaymentRuleViolation."""
    if source not in Payment.Source.values:
        raise PaymentRuleViolation(f"“{source}” is not a payment source.")
    if currency != group_order.currency:
        raise PaymentRuleViolation(
            f"This group order is paid in {group_order.currency}, not {currency}."
        )
    _check_amount(amount_minor, currency)
    if paid_at > timezone.now() + _CLOCK_SKEW:
        raise PaymentRuleViolation("A payment cannot have been made in the future.")
    if payment_method is not None and payment_method.owner_id != group_order.owner_id:
        raise PaymentRuleViolation("That payment method is not this GOM's.")
    for submission, part in requested:
        if not _is_positive_int(part):
            raise PaymentRuleViolation("Each allocation must be a positive amount.")
        if submission.group_order_id != group_order.pk or submission.buyer_id != buyer.pk:
            raise PaymentRuleViolation(
                f"Submission {submission.code} is not this buyer's in this group order."
            )
    if len({submission.pk for submission, _ in requested}) != len(requested):
        raise PaymentRuleViolation("A submission can appear only once in a payment.")
    if sum(part for _, part in requested) > amount_minor:
        raise PaymentRuleViolation("The allocations add up to more than the payment.")


def check_payable(row: Submission, part: int, currency: str) -> None:
    """The rules a locked submission must meet to take ``part``; raise PaymentRuleViolation."""
    if row.status not in PAYABLE_STATES:
        raise PaymentRuleViolation(
            f"Submission {row.code} is {row.get_status_display().lower()} and takes no payment."
        )
    if part > row.outstanding_minor:
        raise PaymentRuleViolation(
            f"Submission {row.code} has only "
            f"{format_money(row.outstanding_minor, currency)} left to pay."
        )


def payment_record(
    *,
    actor: Any,
    buyer: Any,
    currency: str,
    amount_minor: int,
    method_type: str,
    source: str,
    paid_at: datetime,
    idempotency_key: str,
    allocations: Sequence[tuple[Submission, int]] | None = None,
    group_order: GroupOrder | None = None,
    reference: str = "",
    payment_method: PaymentMethod | None = None,
    source_reference: str = "",
) -> Payment:
    """Record money that arrived from ``buyer`` and split it over their submissions, atomically.

    ``group_order`` may be left out when ``allocations`` are given (it is their order).

    ``allocations`` lists ``(submission, amount_minor)`` pairs; without it the money fills the
    buyer's open submissions in this group order, oldest first. A submission paid in full becomes
    ``verified``, one paid in part ``partially_paid``; what is left over becomes overpayment
    credit in the buyer's wallet with this GOM. The fee in force on the payment's local date is
    computed once and stored. A repeat with the same key returns the first payment; the same
    key for another payment raises ``IdempotencyConflict``. Raises ``PaymentRuleViolation``
    (nothing written) for a non-positive or over-limit amount, a currency other than the
    order's, a submission not the buyer's or not in this order, or more than is due.
    """
    if not idempotency_key:
        raise PaymentRuleViolation("An idempotency key is required.")
    if group_order is None:
        if not allocations:
            raise PaymentRuleViolation("Say which group order or submissions this payment pays.")
        group_order = allocations[0][0].group_order
    requested = list(allocations or [])
    check_payment(
        buyer=buyer,
        group_order=group_order,
        currency=currency,
        amount_minor=amount_minor,
        source=source,
        paid_at=paid_at,
        payment_method=payment_method,
        requested=requested,
    )
    existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_payment(existing, buyer=buyer, amount_minor=amount_minor, currency=currency)
    try:
        return _payment_record_locked(
            actor=actor,
            buyer=buyer,
            group_order=group_order,
            currency=currency,
            amount_minor=amount_minor,
            method_type=method_type,
            source=source,
            paid_at=paid_at,
            idempotency_key=idempotency_key,
            requested=requested,
            reference=reference,
            payment_method=payment_method,
            source_reference=source_reference,
        )
    except IntegrityError:
        # A concurrent call with the same key committed first: answer with its payment.
        existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _same_payment(existing, buyer=buyer, amount_minor=amount_minor, currency=currency)


def _payment_record_locked(
    *,
    actor: Any,
    buyer: Any,
    group_order: GroupOrder,
    currency: str,
    amount_minor: int,
    method_type: str,
    source: str,
    paid_at: datetime,
    idempotency_key: str,
    requested: list[tuple[Submission, int]],
    reference: str,
    payment_method: PaymentMethod | None,
    source_reference: str,
) -> Payment:
    with transaction.atomic():
        if requested:
            locked = _lock_submissions([submission.pk for submission, _ in requested])
            plan = [(locked[submission.pk], part) for submission, part in requested]
        else:
            open_rows = list(
                Submission.objects.select_for_update()
                .filter(group_order=group_order, buyer=buyer, status__in=PAYABLE_STATES)
                .order_by("pk")
            )
            plan, left = [], amount_minor
            for row in sorted(open_rows, key=lambda row: (row.created_at, row.pk)):
                part = min(left, row.outstanding_minor)
                if part > 0:
                    plan.append((row, part))
                    left -= part
        for row, part in plan:
            check_payable(row, part, currency)
        allocated = sum(part for _, part in plan)
        overpaid = amount_minor - allocated
        if source == Payment.Source.WALLET and overpaid:
            raise PaymentRuleViolation("Store credit is only ever spent on what is due.")
        rule = (
            None
            if source == Payment.Source.WALLET
            else feerule_in_force(
                method_type=method_type, currency=currency, on=local_date(paid_at, currency)
            )
        )
        payment = Payment.objects.create(
            group_order=group_order,
            buyer=buyer,
            currency=currency,
            amount_minor=amount_minor,
            allocated_minor=allocated,
            credited_minor=overpaid,
            fee_minor=fee_compute(rule=rule, amount_minor=amount_minor),
            fee_rule=rule,
            source=source,
            source_reference=source_reference[:100],
            method_type=method_type,
            payment_method=payment_method,
            reference=reference.strip()[:64],
            paid_at=paid_at,
            idempotency_key=idempotency_key,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        PaymentAllocation.objects.bulk_create(
            PaymentAllocation(payment=payment, submission=row, amount_minor=part)
            for row, part in plan
        )
        note = f"Payment #{payment.pk}: {format_money(amount_minor, currency)}"
        for row, part in plan:
            _move_paid(actor=actor, submission=row, delta=part, notes=note)
        if overpaid:
            wallet_services.wallet_grant_credit(
                actor=actor,
                buyer=buyer,
                issuer=group_order.owner,
                currency=currency,
                amount_minor=overpaid,
                kind=CreditGrant.Kind.OVERPAYMENT,
                description=f"Overpayment on payment #{payment.pk}",
                idempotency_key=_overpayment_key(payment),
                source_type="payments.payment",
                source_id=str(payment.pk),
            )
        audit_record(
            actor=actor,
            action="payment.recorded",
            target=payment,
            after={
                "amount_minor": amount_minor,
                "currency": currency,
                "source": source,
                "fee_minor": payment.fee_minor,
                "allocations": {row.code: part for row, part in plan},
                "credited_minor": overpaid,
                "reference": payment.reference,
            },
        )
        emit_payment_recorded(payment)
    return payment


def payment_void(*, actor: Any, payment: Payment, reason: str) -> Payment:
    """Void a payment with a reason: reverse its allocations and its ledger entries atomically.

    Submissions go back to ``partially_paid`` or ``pending_payment``; overpayment credit is taken
    back (refused when the buyer already spent it); a store-credit payment puts the credit back.
    Refused while the payment has refunds that are not rejected. Voiding twice is harmless.
    """
    if not reason.strip():
        raise PaymentRuleViolation("Say why this payment is voided.")
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status == Payment.Status.VOIDED:
            return locked
        if locked.refund_reserved_minor:
            raise PaymentRuleViolation("This payment has refunds; reject them before voiding it.")
        live = list(locked.allocations.filter(is_reversed=False).order_by("submission_id"))
        rows = _lock_submissions([allocation.submission_id for allocation in live])
        if locked.credited_minor:
            grant = CreditGrant.objects.get(idempotency_key=_current_overpayment_key(locked))
            wallet_services.wallet_balance_for_update(
                buyer=grant.buyer, issuer=grant.wallet.issuer, currency=grant.currency
            )
            grant.refresh_from_db()
            if grant.remaining_minor != grant.amount_minor or grant.status != "active":
                raise PaymentRuleViolation(
                    "The overpayment credit of this payment was already used or has expired; "
                    "void the payment that used it first."
                )
        now = timezone.now()
        note = f"Payment #{locked.pk} voided: {reason.strip()}"
        for allocation in live:
            allocation.is_reversed = True
            allocation.reversed_at = now
            allocation.save(update_fields=["is_reversed", "reversed_at"])
            _move_paid(
                actor=actor,
                submission=rows[allocation.submission_id],
                delta=-allocation.amount_minor,
                notes=note,
            )
        if locked.credited_minor:
            wallet_services.wallet_reverse(
                actor=actor,
                operation_key=_current_overpayment_key(locked),
                reason=note,
                idempotency_key=f"payment:{locked.pk}:void:credit",
            )
        if locked.source == Payment.Source.WALLET:
            wallet_services.wallet_reverse(
                actor=actor,
                operation_key=spend_key(locked),
                reason=note,
                idempotency_key=f"payment:{locked.pk}:void:spend",
            )
        before = {"status": locked.status, "allocated_minor": locked.allocated_minor}
        locked.status = Payment.Status.VOIDED
        locked.void_reason = reason.strip()[:300]
        locked.voided_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.voided_at = now
        locked.allocated_minor = 0
        locked.credited_minor = 0
        locked.save(
            update_fields=[
                "status",
                "void_reason",
                "voided_by",
                "voided_at",
                "allocated_minor",
                "credited_minor",
            ]
        )
        audit_record(
            actor=actor,
            action="payment.voided",
            target=locked,
            before=before,
            after={"status": locked.status, "reason": locked.void_reason},
        )
    return locked


def _current_overpayment_key(payment: Payment) -> str:
    generations = CreditGrant.objects.filter(
        source_type="payments.payment",
        source_id=str(payment.pk),
        kind=CreditGrant.Kind.OVERPAYMENT,
    ).order_by("-id")
    latest = generations.first()
    return latest.idempotency_key if latest else _overpayment_key(payment)


def spend_key(payment: Payment) -> str:
    return f"{payment.idempotency_key}:spend"


def payment_correct_amount(
    *, actor: Any, payment: Payment, amount_minor: int, reason: str
) -> Payment:
    """Correct a payment's amount (a typo in a manual record), never below what it allocated.

    The part not allocated to submissions is overpayment credit: the old credit is taken back
    (refused when already spent) and the new difference granted. Refused below the allocated
    amount or below the refunds, over the limit, or on a voided or store-credit payment.
    """
    if not reason.strip():
        raise PaymentRuleViolation("Say why the amount is corrected.")
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        _check_amount(amount_minor, locked.currency)
        if locked.status == Payment.Status.VOIDED or locked.source == Payment.Source.WALLET:
            raise PaymentRuleViolation("Only a recorded proof or manual payment can be corrected.")
        floor = max(locked.allocated_minor, locked.refund_reserved_minor)
        if amount_minor < floor:
            raise PaymentRuleViolation(
                "A payment cannot be reduced below what is allocated from it "
                f"({format_money(floor, locked.currency)})."
            )
        if amount_minor == locked.amount_minor:
            return locked
        generation = CreditGrant.objects.filter(
            source_type="payments.payment", source_id=str(locked.pk)
        ).count()
        if locked.credited_minor:
            old_key = _current_overpayment_key(locked)
            grant = CreditGrant.objects.get(idempotency_key=old_key)
            wallet_services.wallet_balance_for_update(
                buyer=grant.buyer, issuer=grant.wallet.issuer, currency=grant.currency
            )
            grant.refresh_from_db()
            if grant.remaining_minor != grant.amount_minor or grant.status != "active":
                raise PaymentRuleViolation(
                    "The overpayment credit of this payment was already used; it cannot change."
                )
            wallet_services.wallet_reverse(
                actor=actor,
                operation_key=old_key,
                reason=f"Amount corrected: {reason.strip()}",
                idempotency_key=f"payment:{locked.pk}:correct:{generation}",
            )
        new_credit = amount_minor - locked.allocated_minor
        if new_credit:
            wallet_services.wallet_grant_credit(
                actor=actor,
                buyer=locked.buyer,
                issuer=locked.group_order.owner,
                currency=locked.currency,
                amount_minor=new_credit,
                kind=CreditGrant.Kind.OVERPAYMENT,
                description=f"Overpayment on payment #{locked.pk} (corrected)",
                idempotency_key=_overpayment_key(locked, generation + 1),
                source_type="payments.payment",
                source_id=str(locked.pk),
            )
        before = {"amount_minor": locked.amount_minor, "fee_minor": locked.fee_minor}
        locked.amount_minor = amount_minor
        locked.credited_minor = new_credit
        locked.fee_minor = fee_compute(rule=locked.fee_rule, amount_minor=amount_minor)
        locked.save(update_fields=["amount_minor", "credited_minor", "fee_minor"])
        audit_record(
            actor=actor,
            action="payment.amount_corrected",
            target=locked,
            before=before,
            after={
                "amount_minor": amount_minor,
                "fee_minor": locked.fee_minor,
                "reason": reason.strip(),
            },
        )
    return locked


def wallet_apply_credit(
    *,
    actor: Any,
    submission: Submission,
    idempotency_key: str,
    amount_minor: int | None = None,
) -> Payment:
    """Pay a submission from the buyer's store credit with its GOM: a Payment of source wallet.

    Without ``amount_minor`` it pays as much of what is due as the credit covers. Grants are
    spent soonest-expiring first under the wallet's row lock, so two concurrent applies never
    spend the same credit. Raises ``InsufficientCredit`` (nothing written) when the credit is
    short or empty, ``PaymentRuleViolation`` when the submission takes no payment or the amount
    is more than is due. A repeat with the same key returns the first payment.
    """
    if not idempotency_key:
        raise PaymentRuleViolation("An idempotency key is required.")
    if amount_minor is not None and not _is_positive_int(amount_minor):
        raise PaymentRuleViolation("An amount must be a positive whole number of minor units.")
    try:
        return _wallet_apply_credit_locked(
            actor=actor,
            submission=submission,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
        )
    except IntegrityError:
        # A concurrent call with the same key committed first: answer with its payment.
        earlier = _earlier_credit_payment(idempotency_key, submission)
        if earlier is None:
            raise
        return earlier


def _earlier_credit_payment(idempotency_key: str, submission: Submission) -> Payment | None:
    existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.source != Payment.Source.WALLET or existing.buyer_id != submission.buyer_id:
        raise IdempotencyConflict("This idempotency key was already used for another payment.")
    return existing


def credit_payment(
    row: Submission,
    *,
    amount_minor: int,
    idempotency_key: str,
    actor: Any,
    paid_at: datetime | None = None,
) -> Payment:
    """The (unsaved) payment from store credit that pays ``amount_minor`` of ``row``."""
    return Payment(
        group_order=row.group_order,
        buyer_id=row.buyer_id,
        currency=row.currency,
        amount_minor=amount_minor,
        allocated_minor=amount_minor,
        source=Payment.Source.WALLET,
        method_type="",
        paid_at=paid_at or timezone.now(),
        idempotency_key=idempotency_key,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def credit_payment_audit(payment: Payment, submission_code: str) -> dict[str, Any]:
    """What the audit event of a payment from store credit records (every path)."""
    return {
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "source": Payment.Source.WALLET,
        "fee_minor": 0,
        "allocations": {submission_code: payment.amount_minor},
        "credited_minor": 0,
        "reference": "",
    }


def credit_payable(row: Submission, amount_minor: int | None) -> None:
    """Refuse paying a locked submission ``amount_minor`` (None: what is due) from credit."""
    if row.status not in PAYABLE_STATES or row.outstanding_minor == 0:
        raise PaymentRuleViolation(f"Submission {row.code} has nothing left to pay.")
    if amount_minor is not None and amount_minor > row.outstanding_minor:
        raise PaymentRuleViolation(
            f"Submission {row.code} has only "
            f"{format_money(row.outstanding_minor, row.currency)} left to pay."
        )


def credit_amount(row: Submission, amount_minor: int | None, balance_minor: int) -> int:
    """How much credit an apply spends: what was asked, or as much of what is due as the
    wallet's (unexpired) balance covers."""
    if balance_minor == 0:
        raise InsufficientCredit("There is no store credit to use.")
    if amount_minor is not None:
        return amount_minor
    return min(row.outstanding_minor, balance_minor)


def _wallet_apply_credit_locked(
    *, actor: Any, submission: Submission, idempotency_key: str, amount_minor: int | None
) -> Payment:
    earlier = _earlier_credit_payment(idempotency_key, submission)
    if earlier is not None:
        return earlier
    with transaction.atomic():
        row = (
            # of=self: locking the joined group order too would serialise every buyer's apply.
            Submission.objects.select_for_update(of=("self",))
            .select_related("group_order__owner", "buyer")
            .get(pk=submission.pk)
        )
        credit_payable(row, amount_minor)
        order = row.group_order
        wallet = wallet_services.wallet_balance_for_update(
            buyer=row.buyer, issuer=order.owner, currency=row.currency
        )
        amount = credit_amount(row, amount_minor, wallet.balance_minor)
        payment = credit_payment(
            row, amount_minor=amount, idempotency_key=idempotency_key, actor=actor
        )
        payment.save(force_insert=True)
        wallet_services.wallet_spend(
            actor=actor,
            buyer=row.buyer,
            issuer=order.owner,
            currency=row.currency,
            amount_minor=amount,
            idempotency_key=spend_key(payment),
            source_type="payments.payment",
            source_id=str(payment.pk),
            reason=f"Paid submission {row.code}",
            locked_wallet=wallet,
        )
        PaymentAllocation.objects.create(payment=payment, submission=row, amount_minor=amount)
        _move_paid(
            actor=actor,
            submission=row,
            delta=amount,
            notes=f"Store credit: {format_money(amount, row.currency)}",
        )
        audit_record(
            actor=actor,
            action="payment.recorded",
            target=payment,
            after=credit_payment_audit(payment, row.code),
        )
        emit_payment_recorded(payment)
    return payment


# --- Refunds


def _refund_transition(refund: Refund, target: str) -> str:
    if target not in REFUND_TRANSITIONS[refund.status]:
        raise PaymentRuleViolation(f"A refund cannot go from {refund.status} to {target}.")
    previous = refund.status
    refund.status = target
    return previous


def refund_request(
    *,
    actor: Any,
    payment: Payment,
    amount_minor: int,
    destination: str,
    reason: str,
    idempotency_key: str,
    submission: Submission | None = None,
    details: str = "",
) -> Refund:
    """Ask for part or all of a payment back, checked against the group order's refund policy.

    The payment's row is locked, so the refunds that are not rejected never add up to more than
    the payment, however many requests arrive at once. Per submission at most the policy's share
    of what this payment paid it can be refunded; requests after the policy's date or for a
    reason it does not accept are refused. ``submission`` may be left out when the payment paid
    exactly one. A repeat with the same key returns the first refund.
    """
    if not _is_positive_int(amount_minor):
        raise PaymentRuleViolation("A refund must be a positive whole number of minor units.")
    if destination not in Refund.Destination.values:
        raise PaymentRuleViolation(f"“{destination}” is not a refund destination.")
    if reason not in RefundReason.values:
        raise PaymentRuleViolation(f"“{reason}” is not a refund reason.")
    if not idempotency_key:
        raise PaymentRuleViolation("An idempotency key is required.")
    earlier = _earlier_refund(idempotency_key, payment, amount_minor)
    if earlier is not None:
        return earlier
    try:
        return _refund_request_locked(
            actor=actor,
            payment=payment,
            amount_minor=amount_minor,
            destination=destination,
            reason=reason,
            idempotency_key=idempotency_key,
            submission=submission,
            details=details,
        )
    except IntegrityError:
        # A concurrent request with the same key committed first: answer with its refund.
        earlier = _earlier_refund(idempotency_key, payment, amount_minor)
        if earlier is None:
            raise
        return earlier


def _earlier_refund(idempotency_key: str, payment: Payment, amount_minor: int) -> Refund | None:
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and (existing.payment_id, existing.amount_minor) != (
        payment.pk,
        amount_minor,
    ):
        raise IdempotencyConflict("This idempotency key was already used for another refund.")
    return existing


@dataclass(frozen=True)
class RefundFacts:
    """What a refund request is checked against, read under the payment's row lock."""

    payment_status: str
    payment_amount_minor: int
    refund_reserved_minor: int
    currency: str
    allocated_minor: int  # what this payment paid the submission (a live allocation)
    submission_status: str
    submission_code: str
    already_minor: int  # the submission's refunds from this payment that are not rejected
    refunds_accepted_until: datetime | None
    refund_reasons: Sequence[str]
    refundable_percent: int


def refund_target(live: Collection[int], asked: int | None) -> int:
    """The submission a refund of a payment is for: the one asked, or the only one it paid.

    ``live``: the submissions the payment's allocations (not reversed) paid.
    """
    if asked is None:
        if len(live) != 1:
            raise PaymentRuleViolation("Say which submission of this payment to refund.")
        return next(iter(live))
    if asked not in live:
        raise PaymentRuleViolation("This payment did not pay that submission.")
    return asked


def refund_check(facts: RefundFacts, *, amount_minor: int, reason: str, now: datetime) -> None:
    """Refuse (PaymentRuleViolation) a refund request that the payment, the submission or the
    group order's refund policy does not allow; the rules of every path that requests one."""
    if facts.payment_status != Payment.Status.RECORDED:
        raise PaymentRuleViolation("A voided payment cannot be refunded.")
    if facts.submission_status not in REFUNDABLE_STATES:
        label = SubmissionStatus(facts.submission_status).label.lower()
        raise PaymentRuleViolation(
            f"Submission {facts.submission_code} is {label}; "
            "only a paid submission can be refunded."
        )
    if facts.refunds_accepted_until is not None and now > facts.refunds_accepted_until:
        raise PaymentRuleViolation("This group order no longer accepts refund requests.")
    if reason not in (facts.refund_reasons or []):
        raise PaymentRuleViolation(
            f"This group order does not refund for “{RefundReason(reason).label}”."
        )
    refundable = percent_of(facts.allocated_minor, facts.refundable_percent * 100)
    if facts.already_minor + amount_minor > refundable:
        raise PaymentRuleViolation(
            f"At most {format_money(refundable - facts.already_minor, facts.currency)} more "
            f"can be refunded on submission {facts.submission_code} from this payment."
        )
    if facts.refund_reserved_minor + amount_minor > facts.payment_amount_minor:
        raise PaymentRuleViolation("The refunds would add up to more than the payment.")


def _refund_request_locked(
    *,
    actor: Any,
    payment: Payment,
    amount_minor: int,
    destination: str,
    reason: str,
    idempotency_key: str,
    submission: Submission | None,
    details: str,
) -> Refund:
    with transaction.atomic():
        payments = (
            Payment.objects.select_for_update(of=("self",)) if REFUND_LOCKING else Payment.objects
        )
        locked = payments.select_related("group_order").get(pk=payment.pk)
        if locked.status != Payment.Status.RECORDED:
            raise PaymentRuleViolation("A voided payment cannot be refunded.")
        live = {
            allocation.submission_id: allocation.amount_minor
            for allocation in locked.allocations.filter(is_reversed=False)
        }
        submission_id = refund_target(live, submission.pk if submission is not None else None)
        row = Submission.objects.get(pk=submission_id)
        order = locked.group_order
        already = (
            Refund.objects.filter(payment=locked, submission_id=submission_id)
            .exclude(status=Refund.Status.REJECTED)
            .aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        wallet_services.race_window()
        refund_check(
            RefundFacts(
                payment_status=locked.status,
                payment_amount_minor=locked.amount_minor,
                refund_reserved_minor=locked.refund_reserved_minor,
                currency=locked.currency,
                allocated_minor=live[submission_id],
                submission_status=row.status,
                submission_code=row.code,
                already_minor=already,
                refunds_accepted_until=order.refunds_accepted_until,
                refund_reasons=order.refund_reasons,
                refundable_percent=order.refundable_percent,
            ),
            amount_minor=amount_minor,
            reason=reason,
            now=timezone.now(),
        )
        refund = Refund.objects.create(
            payment=locked,
            submission=row,
            buyer_id=locked.buyer_id,
            currency=locked.currency,
            amount_minor=amount_minor,
            destination=destination,
            reason=reason,
            details=details.strip()[:500],
            requested_by=actor,
            idempotency_key=idempotency_key,
        )
        locked.refund_reserved_minor += amount_minor
        locked.save(update_fields=["refund_reserved_minor"])
        audit_record(
            actor=actor,
            action="refund.requested",
            target=refund,
            after=refund_requested_audit(locked.pk, row.code, refund),
        )
    return refund


def refund_requested_audit(payment_id: int, submission_code: str, refund: Refund) -> dict[str, Any]:
    """What the audit event of a refund request records (every path that requests one)."""
    return {
        "payment": payment_id,
        "submission": submission_code,
        "amount_minor": refund.amount_minor,
        "destination": refund.destination,
        "reason": refund.reason,
    }


def _lock_refund_chain(refund: Refund) -> tuple[Refund, Payment, Submission]:
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("group_order")
        .get(pk=locked.payment_id)
    )
    submission = Submission.objects.select_for_update().get(pk=locked.submission_id)
    return locked, payment, submission


def _complete_refund(
    *, actor: Any, refund: Refund, payment: Payment, submission: Submission
) -> None:
    """Mark a locked refund paid and move the submission to (partially) refunded."""
    refund.paid_at = timezone.now()
    submission.refunded_minor += refund.amount_minor
    submission.save(update_fields=["refunded_minor", "updated_at"])
    target = (
        SubmissionStatus.REFUNDED
        if submission.refunded_minor == submission.paid_minor
        else SubmissionStatus.PARTIALLY_REFUNDED
    )
    if target != submission.status:
        submission_transition(
            actor=actor,
            submission=submission,
            target=target,
            notes=f"Refund #{refund.pk}: {format_money(refund.amount_minor, refund.currency)}",
        )
    notify_buyer_on_commit("refund_paid", submission.pk, refund_id=refund.pk)
    emit_refund_paid(refund, submission)


def refund_approve(*, actor: Any, refund: Refund) -> Refund:
    """Approve a requested refund; one to store credit is granted and paid at once.

    Approving an approved (or already paid) refund returns it unchanged.
    """
    with transaction.atomic():
        locked, payment, submission = _lock_refund_chain(refund)
        if locked.status in (Refund.Status.APPROVED, Refund.Status.PAID):
            return locked
        previous = _refund_transition(locked, Refund.Status.APPROVED)
        locked.processed_by = actor
        locked.processed_at = timezone.now()
        update_fields = ["status", "processed_by", "processed_at"]
        if locked.destination == Refund.Destination.WALLET:
            locked.credit_grant = wallet_services.wallet_grant_credit(
                actor=actor,
                buyer=locked.buyer,
                issuer=payment.group_order.owner,
                currency=locked.currency,
                amount_minor=locked.amount_minor,
                kind=CreditGrant.Kind.REFUND,
                description=f"Refund #{locked.pk} of payment #{payment.pk}",
                idempotency_key=f"refund:{locked.pk}",
                source_type="payments.refund",
                source_id=str(locked.pk),
            )
            _refund_transition(locked, Refund.Status.PAID)
            _complete_refund(actor=actor, refund=locked, payment=payment, submission=submission)
            update_fields += ["credit_grant", "paid_at"]
        locked.save(update_fields=update_fields)
        audit_record(
            actor=actor,
            action="refund.approved",
            target=locked,
            before={"status": previous},
            after={"status": locked.status, "amount_minor": locked.amount_minor},
        )
        if locked.status == Refund.Status.APPROVED:
            # A refund to store credit is paid at once and says so; a payout is announced now.
            notify_buyer_on_commit("refund_approved", submission.pk, refund_id=locked.pk)
    return locked


def refund_reject(*, actor: Any, refund: Refund, reason: str) -> Refund:
    """Reject a requested or approved refund with a reason, freeing its amount on the payment."""
    if not reason.strip():
        raise PaymentRuleViolation("Say why the refund is rejected.")
    with transaction.atomic():
        locked, payment, _submission = _lock_refund_chain(refund)
        if locked.status == Refund.Status.REJECTED:
            return locked
        previous = _refund_transition(locked, Refund.Status.REJECTED)
        locked.processed_by = actor
        locked.processed_at = timezone.now()
        locked.rejection_reason = reason.strip()[:300]
        locked.save(update_fields=["status", "processed_by", "processed_at", "rejection_reason"])
        payment.refund_reserved_minor -= locked.amount_minor
        payment.save(update_fields=["refund_reserved_minor"])
        audit_record(
            actor=actor,
            action="refund.rejected",
            target=locked,
            before={"status": previous},
            after={"status": locked.status, "reason": locked.rejection_reason},
        )
    return locked


def refund_mark_paid(*, actor: Any, refund: Refund, payout_reference: str) -> Refund:
    """Record that an approved refund was paid back by hand, with the payout's reference."""
    if not payout_reference.strip():
        raise PaymentRuleViolation("Give the reference of the payout.")
    with transaction.atomic():
        locked, payment, submission = _lock_refund_chain(refund)
        if locked.status == Refund.Status.PAID:
            return locked
        if locked.destination != Refund.Destination.ORIGINAL_METHOD:
            raise PaymentRuleViolation("A refund to store credit is paid when it is approved.")
        previous = _refund_transition(locked, Refund.Status.PAID)
        locked.payout_reference = payout_reference.strip()[:64]
        _complete_refund(actor=actor, refund=locked, payment=payment, submission=submission)
        locked.save(update_fields=["status", "payout_reference", "paid_at"])
        audit_record(
            actor=actor,
            action="refund.paid",
            target=locked,
            before={"status": previous},
            after={"status": locked.status, "payout_reference": locked.payout_reference},
        )
    return locked
