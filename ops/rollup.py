"""The daily metrics roll-up: one ``DailyMetric`` row per business day and currency.

A business day is a calendar day in METRICS_TIME_ZONE (Asia/Manila by default; Manila and Kuala
Lumpur are both UTC+8 with no daylight saving), half-open: 2026-11-20 is
[2026-11-19 16:00 UTC, 2026-11-20 16:00 UTC). Something at 16:00:00 UTC exactly belongs to the next
day, as it does on a clock in Manila. A UTC day would split every buyer's evening across two rows.

Every figure is counted by the moment its event happened (placed, received, decided, recorded,
voided, paid, granted), so re-running a past day gives the same row, and ``update_or_create`` on
(day, currency) makes a re-run or a retry harmless.
"""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from core.money import Currency
from ops.models import DailyMetric
from payments.models import Payment, PaymentAllocation, Refund, Submission
from verification.models import ProofReview, ReviewState
from wallet.models import CreditGrant, WalletEntry


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return the [start, end) instants of a business day."""
    zone = ZoneInfo(settings.METRICS_TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def business_date(moment: datetime) -> date:
    """Return the business day an instant falls on."""
    return moment.astimezone(ZoneInfo(settings.METRICS_TIME_ZONE)).date()


def _grouped(
    queryset: QuerySet[Any], moment: str, bounds: tuple[datetime, datetime], **aggregates: Any
) -> dict[str, dict[str, Any]]:
    # One GROUP BY currency per figure family, over the range index of its time column.
    start, end = bounds
    rows = (
        queryset.filter(**{f"{moment}__gte": start, f"{moment}__lt": end})
        .values("currency")
        .annotate(**aggregates)
        .order_by()
    )
    return {row.pop("currency"): row for row in rows}


def _figures(bounds: tuple[datetime, datetime]) -> dict[str, dict[str, int]]:
    families = [
        _grouped(
            Submission.objects,
            "created_at",
            bounds,
            submissions_placed=Count("pk"),
            submissions_due_minor=Sum("amount_due_minor"),
        ),
        _grouped(ProofReview.objects, "queued_at", bounds, proofs_received=Count("pk")),
        _grouped(
            ProofReview.objects,
            "decided_at",
            bounds,
            proofs_approved=Count("pk", filter=Q(state=ReviewState.APPROVED)),
            proofs_approved_minor=Sum(
                "amount_approved_minor", filter=Q(state=ReviewState.APPROVED)
            ),
            proofs_rejected=Count("pk", filter=Q(state=ReviewState.REJECTED)),
            proofs_reupload_requested=Count("pk", filter=Q(state=ReviewState.REUPLOAD_REQUESTED)),
        ),
        # Every payment recorded that day, voided later or not: voids count on their own day.
        _grouped(
            Payment.objects,
            "created_at",
            bounds,
            payments_count=Count("pk"),
            payments_minor=Sum("amount_minor"),
            fees_minor=Sum("fee_minor"),
            credited_minor=Sum("credited_minor"),
        ),
        _grouped(
            Payment.objects,
            "voided_at",
            bounds,
            payments_voided_count=Count("pk"),
            payments_voided_minor=Sum("amount_minor"),
        ),
        _grouped(
            PaymentAllocation.objects.annotate(currency=F("payment__currency")),
            "created_at",
            bounds,
            allocated_minor=Sum("amount_minor"),
        ),
        _grouped(
            Refund.objects.filter(status=Refund.Status.PAID),
            "paid_at",
            bounds,
            refunds_paid_count=Count("pk"),
            refunds_paid_minor=Sum("amount_minor"),
        ),
        _grouped(
            CreditGrant.objects, "created_at", bounds, credit_granted_minor=Sum("amount_minor")
        ),
        # Uses and expiries are negative entries in the ledger; the metric shows them positive.
        _grouped(
            WalletEntry.objects,
            "created_at",
            bounds,
            credit_used_negative=Sum("amount_minor", filter=Q(kind=WalletEntry.Kind.USE)),
            credit_expired_negative=Sum("amount_minor", filter=Q(kind=WalletEntry.Kind.EXPIRY)),
        ),
    ]
    figures: dict[str, dict[str, int]] = {currency: {} for currency in Currency.values}
    for family in families:
        for currency, values in family.items():
            figures.setdefault(currency, {}).update(
                {name: value or 0 for name, value in values.items()}
            )
    for values in figures.values():
        values["credit_used_minor"] = -values.pop("credit_used_negative", 0)
        values["credit_expired_minor"] = -values.pop("credit_expired_negative", 0)
    return figures


def metrics_roll_up(*, day: date) -> list[DailyMetric]:
    """Write (or rewrite) the rows of one business day, one per currency."""
    figures = _figures(day_bounds(day))
    now = timezone.now()
    rows = []
    with transaction.atomic():
        for currency in sorted(figures):
            row, _ = DailyMetric.objects.update_or_create(
                date=day, currency=currency, defaults={**figures[currency], "computed_at": now}
            )
            rows.append(row)
    return rows


def metrics_roll_up_recent(*, now: datetime | None = None, days: int = 2) -> list[date]:
    """Roll up the last ``days`` finished business days (yesterday first).

    Two by default: the run just after midnight sees yesterday whole, and the day before is
    written again so a run missed by a worker outage is caught up the next night.
    """
    today = business_date(now or timezone.now())
    done = []
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        metrics_roll_up(day=day)
        done.append(day)
    return done
