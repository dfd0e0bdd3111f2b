"""Permission-scoped reads of payments and refunds."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from payments.models import Payment, PaymentAllocation, Refund, Submission
from payments.selectors import Access, grouporder_list_for_user


def _is_anonymous(user: Any) -> bool:
    return user is None or not user.is_authenticated or not user.is_active


def payment_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[Payment]:
    """Return the payments into the group orders ``user`` may act on."""
    if _is_anonymous(user):
        return Payment.objects.none()
    return Payment.objects.filter(
        group_order__in=grouporder_list_for_user(user, access=access).values("pk")
    )


def payment_list_for_buyer(buyer: Any) -> QuerySet[Payment]:
    """Return a buyer's own payments, newest first."""
    if _is_anonymous(buyer):
        return Payment.objects.none()
    return Payment.objects.filter(buyer=buyer)


def payment_get_for_buyer(buyer: Any, pk: object) -> Payment:
    """Return one of the buyer's payments or raise Http404 (missing and not-theirs look alike)."""
    try:
        return payment_list_for_buyer(buyer).get(pk=pk)
    except (Payment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such payment.") from None


def submission_get_for_buyer_by_pk(buyer: Any, pk: object) -> Submission:
    """Return one of the buyer's submissions by id or raise Http404."""
    if _is_anonymous(buyer):
        raise Http404("No such submission.")
    try:
        return Submission.objects.select_related("group_order").get(pk=pk, buyer=buyer)
    except (Submission.DoesNotExist, ValueError, TypeError):
        raise Http404("No such submission.") from None


def refund_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[Refund]:
    """Return the refunds on the group orders ``user`` may act on."""
    if _is_anonymous(user):
        return Refund.objects.none()
    return Refund.objects.filter(
        payment__group_order__in=grouporder_list_for_user(user, access=access).values("pk")
    )


def user_can_decide_refund(user: Any, refund: Refund) -> bool:
    """Whether ``user`` may approve, reject or mark paid this refund (verify access)."""
    return refund_list_for_user(user, access=Access.VERIFY).filter(pk=refund.pk).exists()


def refundable_allocation_for_buyer(buyer: Any, submission: Submission) -> PaymentAllocation | None:
    """Return the latest live allocation that paid the buyer's submission, or None.

    A refund request names one payment; the buyer's page refunds against the latest one that
    paid this submission (the service checks how much of it is still refundable).
    """
    if _is_anonymous(buyer) or submission.buyer_id != buyer.pk:
        return None
    return (
        PaymentAllocation.objects.filter(
            submission=submission,
            is_reversed=False,
            payment__status=Payment.Status.RECORDED,
        )
        .select_related("payment")
        .order_by("-created_at", "-id")
        .first()
    )


def refund_list_for_buyer(buyer: Any, submission: Submission) -> QuerySet[Refund]:
    """Return the refunds a buyer asked for on one of their submissions, oldest first."""
    return Refund.objects.filter(buyer=buyer, submission=submission).order_by("created_at", "id")
