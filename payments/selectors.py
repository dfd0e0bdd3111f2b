"""Every permission-scoped read of group orders, methods and submissions goes through here.

A GOM sees what they own; an assistant sees the group orders they were granted (django-guardian
object permissions); finance sees everything read-only; superusers see all. Anything else is
simply absent from the queryset, so "not yours" and "does not exist" look the same (404).
"""

from enum import StrEnum
from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from payments.models import GroupOrder, Payment, PaymentMethod, Submission
from payments.money.fees import local_month_start


class Access(StrEnum):
    VIEW = "view"  # read the order and its submissions
    VERIFY = "verify"  # decide on payments
    MANAGE = "manage"  # edit the order itself, grant assistants


FINANCE_PERMISSION = "payments.view_all_orders"
_GRANTED_PERMISSIONS = {
    Access.VIEW: ["payments.view_grouporder", "payments.verify_grouporder"],
    Access.VERIFY: ["payments.verify_grouporder"],
}


def _is_anonymous(user: Any) -> bool:
    return user is None or not user.is_authenticated or not user.is_active


def grouporder_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[GroupOrder]:
    """Return the group orders ``user`` may act on at the given access level."""
    orders = GroupOrder.objects.all()
    if _is_anonymous(user):
        return orders.none()
    if user.is_superuser:
        return orders
    if access == Access.VIEW and user.has_perm(FINANCE_PERMISSION):
        return orders
    if not user.is_staff:
        return orders.none()
    if access == Access.MANAGE:
        return orders.filter(owner=user)
    granted = get_objects_for_user(
        user,
        _GRANTED_PERMISSIONS[access],
        klass=GroupOrder,
        any_perm=True,
        with_superuser=False,
        accept_global_perms=False,
    )
    return orders.filter(Q(owner=user) | Q(pk__in=granted.values("pk")))


def grouporder_get_for_user(user: Any, pk: object, *, access: Access = Access.VIEW) -> GroupOrder:
    """Return one group order or raise Http404, whether it is missing or not the user's."""
    try:
        return grouporder_list_for_user(user, access=access).get(pk=pk)
    except (GroupOrder.DoesNotExist, ValueError, TypeError):
        raise Http404("No such group order.") from None


def submission_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[Submission]:
    """Return the submissions of the group orders ``user`` may act on."""
    if _is_anonymous(user):
        return Submission.objects.none()
    if user.is_superuser or (access == Access.VIEW and user.has_perm(FINANCE_PERMISSION)):
        return Submission.objects.all()
    return Submission.objects.filter(
        group_order__in=grouporder_list_for_user(user, access=access).values("pk")
    )


def submission_get_for_user(user: Any, pk: object, *, access: Access = Access.VIEW) -> Submission:
    try:
        return submission_list_for_user(user, access=access).get(pk=pk)
    except (Submission.DoesNotExist, ValueError, TypeError):
        raise Http404("No such submission.") from None


def submission_list_for_buyer(buyer: Any) -> QuerySet[Submission]:
    """Return a buyer's own submissions, newest first."""
    if _is_anonymous(buyer):
        return Submission.objects.none()
    return Submission.objects.filter(buyer=buyer).select_related("group_order", "payment_method")


def submission_get_for_buyer(buyer: Any, code: str) -> Submission:
    try:
        return submission_list_for_buyer(buyer).get(code=code)
    except Submission.DoesNotExist:
        raise Http404("No such submission.") from None


def paymentmethod_list_for_user(user: Any) -> QuerySet[PaymentMethod]:
    """Return the payment methods a staff user may see: their own, or all for finance."""
    if _is_anonymous(user):
        return PaymentMethod.objects.none()
    if user.is_superuser or user.has_perm(FINANCE_PERMISSION):
        return PaymentMethod.objects.all()
    if not user.is_staff:
        return PaymentMethod.objects.none()
    return PaymentMethod.objects.filter(owner=user)


def user_can_manage_paymentmethod(user: Any, method: PaymentMethod) -> bool:
    return not _is_anonymous(user) and (user.is_superuser or method.owner_id == user.pk)


def grouporder_get_public(pk: object) -> GroupOrder:
    """Return a group order buyers may see by its link (open or closed, never archived)."""
    try:
        return GroupOrder.objects.select_related("owner").get(
            pk=pk, status__in=[GroupOrder.Status.OPEN, GroupOrder.Status.CLOSED]
        )
    except (GroupOrder.DoesNotExist, ValueError, TypeError):
        raise Http404("No such group order.") from None


def paymentmethod_list_offered(order: GroupOrder) -> list[PaymentMethod]:
    """Return the active methods an order accepts, in the order the GOM named them."""
    return list(order.accepted_methods.filter(is_active=True).order_by("display_name"))


def paymentmethod_last_used_by(buyer: Any, methods: list[PaymentMethod]) -> PaymentMethod | None:
    """Return which of ``methods`` the buyer chose most recently, to preselect it."""
    if _is_anonymous(buyer):
        return None
    last = (
        Submission.objects.filter(buyer=buyer, payment_method__in=[m.pk for m in methods])
        .order_by("-created_at")
        .values_list("payment_method_id", flat=True)
        .first()
    )
    return next((method for method in methods if method.pk == last), None)


# A submission still waiting for (part of) its money: what it owes may yet reach its method.
OPEN_STATES = (
    Submission.Status.PENDING_PAYMENT,
    Submission.Status.PROOF_SUBMITTED,
    Submission.Status.REJECTED,
    Submission.Status.PARTIALLY_PAID,
)


def paymentmethod_month_committed_minor(method: PaymentMethod, *, currency: str) -> int:
    """Return what a method received this month plus what its open submissions still owe.

    E-wallets cap what an account may receive per calendar month; both parts count, so that
    placing orders cannot promise the account more money than it may take in.
    """
    since = local_month_start(timezone.now(), currency)
    received = Payment.objects.filter(
        payment_method=method,
        currency=currency,
        status=Payment.Status.RECORDED,
        paid_at__gte=since,
    ).aggregate(total=Sum("amount_minor"))["total"]
    owed = Submission.objects.filter(
        payment_method=method, currency=currency, status__in=OPEN_STATES
    ).aggregate(total=Sum(F("amount_due_minor") - F("paid_minor")))["total"]
    return (received or 0) + (owed or 0)
