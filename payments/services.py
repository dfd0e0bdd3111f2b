"""Every write of the payments app: one function per business change, each one transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import audit_record
from outbox.tasks_topic import enqueue_task_on_commit
from payments.events import emit_submission_decided
from payments.exceptions import ConcurrentUpdate, PaymentRuleViolation
from payments.models import (
    GroupOrder,
    GroupOrderItem,
    PaymentMethod,
    Submission,
    SubmissionLine,
)
from payments.notifications import notify_buyer_on_commit
from payments.selectors import paymentmethod_month_committed_minor


@dataclass(frozen=True)
class LineRequest:
    item_id: int
    quantity: int


def submission_create(
    *,
    actor: Any,
    group_order: GroupOrder,
    buyer: Any,
    buyer_name: str,
    lines: Sequence[LineRequest],
    buyer_phone: str = "",
    payment_method: PaymentMethod | None = None,
    terms_accepted: bool,
    ip_address: str | None = None,
    notify: bool = True,
) -> Submission:
    """Place a buyer's submission on an open group order, pricing it from the order's items.

    With ``notify`` (the default) the buyer is e-mailed the payment instructions after commit;
    demo data and imports of existing orders pass False.
    """
    if not terms_accepted:
        raise PaymentRuleViolation("The terms must be accepted to place an order.")
    if not lines or any(line.quantity < 1 for line in lines):
        raise PaymentRuleViolation("Choose at least one item, each with a quantity of 1 or more.")
    with transaction.atomic():
        order = GroupOrder.objects.select_for_update().get(pk=group_order.pk)
        now = timezone.now()
        if order.status != GroupOrder.Status.OPEN or now > order.order_deadline:
            raise PaymentRuleViolation("This group order no longer takes orders.")
        if (
            payment_method is not None
            and not order.accepted_methods.filter(pk=payment_method.pk, is_active=True).exists()
        ):
            raise PaymentRuleViolation("This group order does not accept that payment method.")
        items = {
            item.pk: item
            for item in GroupOrderItem.objects.filter(
                group_order=order, pk__in=[line.item_id for line in lines], is_available=True
            )
        }
        missing = [line.item_id for line in lines if line.item_id not in items]
        if missing:
            raise PaymentRuleViolation("One of the chosen items is not available in this order.")
        amount_due = sum(items[line.item_id].unit_price_minor * line.quantity for line in lines)
        limit = settings.PAYMENT_LIMITS_MINOR[order.currency]
        if amount_due > limit:
            raise PaymentRuleViolation("This order is over the amount a single payment may carry.")
        if payment_method is not None and payment_method.monthly_limit_minor is not None:
            _check_monthly_limit(payment_method, currency=order.currency, amount_minor=amount_due)
        submission = Submission.objects.create(
            group_order=order,
            buyer=buyer,
            buyer_name=buyer_name.strip(),
            buyer_phone=buyer_phone.strip(),
            amount_due_minor=amount_due,
            currency=order.currency,
            payment_method=payment_method,
            terms_version=settings.TERMS_VERSION,
            terms_accepted_at=now,
            terms_accepted_ip=ip_address,
        )
        SubmissionLine.objects.bulk_create(
            SubmissionLine(
                submission=submission,
                item=items[line.item_id],
                description=items[line.item_id].name,
                quantity=line.quantity,
                unit_price_minor=items[line.item_id].unit_price_minor,
            )
            for line in lines
        )
        audit_record(
            actor=actor,
            action="submission.created",
            target=submission,
            after={"amount_due_minor": amount_due, "currency": order.currency},
        )
        if notify:
            notify_buyer_on_commit("submission_placed", submission.pk)
        enqueue_task_on_commit("fraud.check_submission", submission.pk)  # a flag, never a block
    return submission


def _check_monthly_limit(method: PaymentMethod, *, currency: str, amount_minor: int) -> None:
    # The method's row lock (taken after the order's, always in this order) makes two buyers
    # placing orders at once count each other's: together they cannot pass the limit.
    locked = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    committed = paymentmethod_month_committed_minor(locked, currency=currency)
    if committed + amount_minor > locked.monthly_limit_minor:
        raise PaymentRuleViolation(
            f"{locked.display_name} cannot take this order: it would pass the account's monthly"
            " receiving limit. Choose another payment method."
        )


def submission_mark_instructions_sent(*, actor: Any, submission: Submission) -> Submission:
    """Record that the payment instructions e-mail went out (first time only)."""
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.payment_instructions_sent_at is None:
            locked.payment_instructions_sent_at = timezone.now()
            locked.save(update_fields=["payment_instructions_sent_at", "updated_at"])
            audit_record(actor=actor, action="submission.instructions_sent", target=locked)
    return locked


def _change_reason(text: str) -> str:
    # simple-history keeps the reason in a 100-character column; the full notes (up to a
    # 500-character note to the buyer) are on the submission and in the audit row.
    limit = Submission.history.model._meta.get_field("history_change_reason").max_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


def submission_transition(
    *,
    actor: Any,
    submission: Submission,
    target: str,
    expected_version: int | None = None,
    notes: str = "",
) -> Submission:
    """Move a submission to ``target`` under a row lock, recording who did it and why.

    Raises ``InvalidTransition`` when the table forbids the move and ``ConcurrentUpdate`` when
    ``expected_version`` is given and someone changed the submission since it was read. Moving to
    the state the submission is already in is refused too: the caller decides what a repeat means.
    """
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if expected_version is not None and locked.version != expected_version:
            raise ConcurrentUpdate(
                f"Submission {locked.code} was changed by someone else; reload and try again."
            )
        previous = locked.apply_transition(target)
        update_fields = ["status", "version", "updated_at"]
        if notes:
            locked.verification_notes = notes
            update_fields.append("verification_notes")
        if target in (Submission.Status.VERIFIED, Submission.Status.REJECTED):
            locked.verified_by = actor if getattr(actor, "is_authenticated", False) else None
            locked.verified_at = timezone.now()
            update_fields += ["verified_by", "verified_at"]
        locked._change_reason = _change_reason(notes or f"{previous} → {target}")  # type: ignore[attr-defined]
        locked.save(update_fields=update_fields)
        audit_record(
            actor=actor,
            action="submission.state_changed",
            target=locked,
            before={"status": previous, "version": locked.version - 1},
            after={"status": target, "version": locked.version, "notes": notes},
        )
        if target in BUYER_EMAIL_ON:
            notify_buyer_on_commit(BUYER_EMAIL_ON[target], locked.pk)
        if target in (Submission.Status.VERIFIED, Submission.Status.REJECTED):
            emit_submission_decided(locked)
    return locked


# The state changes a buyer is told about by e-mail (after commit).
BUYER_EMAIL_ON = {
    Submission.Status.VERIFIED: "verified",
    Submission.Status.PARTIALLY_PAID: "partially_paid",
    Submission.Status.REJECTED: "rejected",
}


_ASSISTANT_PERMISSIONS = {
    "view": ["view_grouporder"],
    "verify": ["view_grouporder", "verify_grouporder"],
}


def grouporder_grant_access(
    *, actor: Any, group_order: GroupOrder, assistant: Any, level: str
) -> None:
    """Give an assistant view or verify rights on one group order (replacing earlier rights)."""
    if level not in _ASSISTANT_PERMISSIONS:
        raise PaymentRuleViolation("Access is either 'view' or 'verify'.")
    if assistant.pk == group_order.owner_id:
        raise PaymentRuleViolation("The owner already has every right on this group order.")
    if not assistant.is_staff:
        raise PaymentRuleViolation("Only staff accounts can assist on a group order.")
    with transaction.atomic():
        GroupOrder.objects.select_for_update().get(pk=group_order.pk)
        for codename in ("view_grouporder", "verify_grouporder"):
            remove_perm(codename, assistant, group_order)
        for codename in _ASSISTANT_PERMISSIONS[level]:
            assign_perm(codename, assistant, group_order)
        audit_record(
            actor=actor,
            action="grouporder.access_granted",
            target=group_order,
            after={"assistant": assistant.email, "level": level},
        )


def grouporder_revoke_access(*, actor: Any, group_order: GroupOrder, assistant: Any) -> None:
    """Take every right an assistant had on one group order away."""
    with transaction.atomic():
        GroupOrder.objects.select_for_update().get(pk=group_order.pk)
        for codename in ("view_grouporder", "verify_grouporder"):
            remove_perm(codename, assistant, group_order)
        audit_record(
            actor=actor,
            action="grouporder.access_revoked",
            target=group_order,
            before={"assistant": assistant.email},
        )
