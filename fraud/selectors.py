"""Permission-scoped reads of fraud check hits."""

from typing import Any

from django.db.models import QuerySet

from fraud.models import FraudLog
from payments.selectors import FINANCE_PERMISSION, grouporder_list_for_user


def fraudlog_list_for_user(user: Any) -> QuerySet[FraudLog]:
    """Return the hits ``user`` may see: finance and superusers all, a GOM those of their orders."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return FraudLog.objects.none()
    if user.is_superuser or user.has_perm(FINANCE_PERMISSION):
        return FraudLog.objects.all()
    return FraudLog.objects.filter(group_order__in=grouporder_list_for_user(user).values("pk"))
