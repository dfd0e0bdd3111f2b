"""The finance report: money in, fees, refunds, store credit and dues for a period, scoped.

Every sum is in one currency (the filter's); a GOM's report covers only their group orders.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from payments.models import Payment, Refund, RefundStatus, Submission, SubmissionStatus
from payments.money.selectors import payment_list_for_user, refund_list_for_user
from payments.reconciliation.selectors import user_sees_all_finance
from payments.selectors import submission_list_for_user
from wallet.models import CreditGrant, WalletEntry

_ZONES = {"PHP": "Asia/Manila", "MYR": "Asia/Kuala_Lumpur"}
OUTSTANDING_STATES = (
    SubmissionStatus.PENDING_PAYMENT,
    SubmissionStatus.PROOF_SUBMITTED,
    SubmissionStatus.PARTIALLY_PAID,
)


@dataclass(frozen=True)
class ReportFilters:
    currency: str = "PHP"
    date_from: date | None = None
    date_to: date | None = None
    gom: int | None = None
    group_order: int | None = None
    method_type: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "gom": self.gom,
            "group_order": self.group_order,
            "method_type": self.method_type or None,
        }

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The period as aware datetimes, whole local days, end exclusive."""
        zone = ZoneInfo(_ZONES.get(self.currency, "UTC"))
        start = datetime.combine(self.date_from, time(), zone) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time(), zone)
            if self.date_to
            else None
        )
        return start, end


def _period(queryset: QuerySet[Any], path: str, filters: ReportFilters) -> QuerySet[Any]:
    start, end = filters.bounds()
    if start is not None:
        queryset = queryset.filter(**{f"{path}__gte": start})
    if end is not None:
        queryset = queryset.filter(**{f"{path}__lt": end})
    return queryset


def _orders(queryset: QuerySet[Any], prefix: str, filters: ReportFilters) -> QuerySet[Any]:
    if filters.group_order is not None:
        queryset = queryset.filter(**{f"{prefix}group_order_id": filters.group_order})
    if filters.gom is not None:
        queryset = queryset.filter(**{f"{prefix}group_order__owner_id": filters.gom})
    return queryset


def payments_for_report(user: Any, filters: ReportFilters) -> QuerySet[Payment]:
    queryset = payment_list_for_user(user).filter(
        status=Payment.Status.RECORDED, currency=filters.currency
    )
    if filters.method_type:
        queryset = queryset.filter(method_type=filters.method_type)
    return _period(_orders(queryset, "", filters), "paid_at", filters)


def refunds_for_report(user: Any, filters: ReportFilters) -> QuerySet[Refund]:
    queryset = refund_list_for_user(user).filter(currency=filters.currency)
    if filters.method_type:
        queryset = queryset.filter(payment__method_type=filters.method_type)
    return _orders(queryset, "payment__", filters)


def _credit_scope(user: Any, filters: ReportFilters) -> Q:
    scope = Q(currency=filters.currency)
    if filters.gom is not None:
        scope &= Q(wallet__issuer_id=filters.gom)
    if not user_sees_all_finance(user):
        # Credit is owed by the GOM who granted it; a GOM sees their own.
        scope &= Q(wallet__issuer=user)
    return scope


@dataclass
class FinanceReport:
    filters: ReportFilters
    gross_minor: int = 0
    fees_minor: int = 0
    refunds_minor: int = 0
    credit_issued_minor: int = 0
    credit_used_minor: int = 0
    credit_expired_minor: int = 0
    outstanding_minor: int = 0
    payment_count: int = 0
    daily: list[tuple[date, int]] = field(default_factory=list)

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.fees_minor


def finance_report(user: Any, filters: ReportFilters) -> FinanceReport:
    """Compute the finance report for what ``user`` may see; one query per figure."""
    report = FinanceReport(filters=filters)
    received = payments_for_report(user, filters).exclude(source=Payment.Source.WALLET)
    totals = received.aggregate(
        gross=Coalesce(Sum("amount_minor"), 0), fees=Coalesce(Sum("fee_minor"), 0)
    )
    report.gross_minor, report.fees_minor = totals["gross"], totals["fees"]
    report.payment_count = received.count()
    report.refunds_minor = _period(
        refunds_for_report(user, filters).filter(status=RefundStatus.PAID), "paid_at", filters
    ).aggregate(total=Coalesce(Sum("amount_minor"), 0))["total"]
    scope = _credit_scope(user, filters)
    grants = _period(CreditGrant.objects.filter(scope), "created_at", filters)
    report.credit_issued_minor = grants.aggregate(total=Coalesce(Sum("amount_minor"), 0))["total"]
    entries = _period(WalletEntry.objects.filter(scope), "created_at", filters)
    used = entries.filter(kind=WalletEntry.Kind.USE).aggregate(
        total=Coalesce(Sum("amount_minor"), 0)
    )["total"]
    expired = entries.filter(kind=WalletEntry.Kind.EXPIRY).aggregate(
        total=Coalesce(Sum("amount_minor"), 0)
    )["total"]
    report.credit_used_minor, report.credit_expired_minor = -used, -expired
    dues = submission_list_for_user(user).filter(
        status__in=OUTSTANDING_STATES, currency=filters.currency
    )
    if filters.method_type:
        dues = dues.filter(payment_method__method_type=filters.method_type)
    report.outstanding_minor = _orders(dues, "", filters).aggregate(
        total=Coalesce(Sum(F("amount_due_minor") - F("paid_minor")), 0)
    )["total"]
    zone = ZoneInfo(_ZONES.get(filters.currency, "UTC"))
    report.daily = [
        (row["day"], row["total"])
        for row in received.annotate(day=TruncDate("paid_at", tzinfo=zone))
        .values("day")
        .annotate(total=Sum("amount_minor"))
        .order_by("day")
    ]
    return report


def outstanding_submissions(user: Any, filters: ReportFilters) -> QuerySet[Submission]:
    return _orders(
        submission_list_for_user(user).filter(
            status__in=OUTSTANDING_STATES, currency=filters.currency
        ),
        "",
        filters,
    )
