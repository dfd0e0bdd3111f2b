"""Verification statistics for the admin stats page and ``GET /api/verifications/stats``.

Read-only selectors, scoped like the queue. Money is summed per currency, never across them.
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Aggregate, Count, DurationField, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.models import SubmissionStatus
from payments.selectors import submission_list_for_user
from verification.models import ProofReview, RejectReason, ReviewState
from verification.selectors import review_list_for_user

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
CHART_DAYS = 30
DECIDED = (ReviewState.APPROVED, ReviewState.REJECTED, ReviewState.REUPLOAD_REQUESTED)


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``, which also takes intervals."""

    function = "percentile_cont"
    name = "Median"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def _median_seconds(reviews: QuerySet[ProofReview]) -> float | None:
    waits = reviews.annotate(
        wait=F("decided_at") - F("queued_at"),
    )
    from django.db import connection

    if connection.vendor == "postgresql":
        value = waits.aggregate(median=Median("wait", output_field=DurationField()))["median"]
        return value.total_seconds() if value is not None else None
    # SQLite (the embedded default): few rows, take the median in Python.
    seconds = sorted(w.total_seconds() for w in waits.values_list("wait", flat=True))
    if not seconds:
        return None
    middle = len(seconds) // 2
    return seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2


def _amounts(reviews: QuerySet[ProofReview]) -> dict[str, int]:
    rows = (
        reviews.filter(state=ReviewState.APPROVED)
        .values("currency")
        .annotate(total=Sum("amount_approved_minor"))
        .order_by("currency")
    )
    return {row["currency"]: row["total"] for row in rows}


def verification_stats(user: Any, *, period: str = "week", now: datetime | None = None) -> dict:
    """Return the numbers of the stats page for the group orders ``user`` may see."""
    if period not in PERIODS:
        raise ValueError(f"The period is one of: {', '.join(PERIODS)}.")
    now = now or timezone.now()
    since = now - PERIODS[period]
    reviews = review_list_for_user(user)
    decided = reviews.filter(decided_at__gte=since, state__in=DECIDED)

    by_status = {
        row["status"]: row["count"]
        for row in submission_list_for_user(user)
        .values("status")
        .annotate(count=Count("pk"))
        .order_by()
    }
    state_counts = {
        row["state"]: row["count"]
        for row in decided.values("state").annotate(count=Count("pk")).order_by()
    }
    total_decided = sum(state_counts.values())
    rejected = state_counts.get(ReviewState.REJECTED, 0) + state_counts.get(
        ReviewState.REUPLOAD_REQUESTED, 0
    )
    reasons = {
        (row["reason_code"] or "note"): row["count"]
        for row in decided.exclude(state=ReviewState.APPROVED)
        .values("reason_code")
        .annotate(count=Count("pk"))
        .order_by("-count")
    }
    per_method = [
        {
            "method_type": row["method_type"] or "unknown",
            "currency": row["currency"],
            "decided": row["decided"],
            "approved_minor": row["approved"] or 0,
        }
        for row in decided.values("method_type", "currency")
        .annotate(decided=Count("pk"), approved=Sum("amount_approved_minor"))
        .order_by("method_type", "currency")
    ]
    per_order = [
        {
            "group_order": row["group_order_id"],
            "title": row["group_order__title"],
            "currency": row["currency"],
            "decided": row["decided"],
            "approved_minor": row["approved"] or 0,
            "awaiting": 0,
        }
        for row in decided.values("group_order_id", "group_order__title", "currency")
        .annotate(decided=Count("pk"), approved=Sum("amount_approved_minor"))
        .order_by("group_order__title")
    ]
    chart_since = (now - timedelta(days=CHART_DAYS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    daily_rows = (
        reviews.filter(state=ReviewState.APPROVED, decided_at__gte=chart_since)
        .annotate(day=TruncDate("decided_at"))
        .values("day", "currency")
        .annotate(total=Sum("amount_approved_minor"))
        .order_by("day")
    )
    daily: dict[str, dict[str, int]] = {}
    for row in daily_rows:
        daily.setdefault(row["currency"], {})[row["day"].isoformat()] = row["total"]
    return {
        "period": period,
        "since": since.isoformat(),
        "submissions_by_status": {status: by_status.get(status, 0) for status in SubmissionStatus},
        "awaiting": reviews.filter(state=ReviewState.AWAITING).count(),
        "verified_amounts": {
            name: _amounts(reviews.filter(decided_at__gte=now - delta))
            for name, delta in (
                ("today", PERIODS["day"]),
                ("week", PERIODS["week"]),
                ("month", PERIODS["month"]),
            )
        },
        "decided": total_decided,
        "approved": state_counts.get(ReviewState.APPROVED, 0),
        "rejected": rejected,
        "rejection_rate": round(rejected / total_decided, 4) if total_decided else None,
        "rejection_reasons": reasons,
        "median_seconds_to_decision": _median_seconds(decided),
        "per_method": per_method,
        "per_group_order": per_order,
        "daily_verified": daily,
    }


def reason_label(code: str) -> str:
    return str(RejectReason(code).label) if code in RejectReason.values else "Note only"


def chart_svg_bars(daily: dict[str, int], *, today: date, days: int = CHART_DAYS) -> dict:
    """Lay out the bars of the daily chart (the template draws them as SVG, no script needed)."""
    width, height, gap = 600, 160, 2
    bar = (width - gap * days) / days
    top = max(daily.values(), default=0) or 1
    bars = []
    for index in range(days):
        day = today - timedelta(days=days - 1 - index)
        value = daily.get(day.isoformat(), 0)
        bar_height = round(value / top * (height - 20), 1)
        bars.append(
            {
                "x": round(index * (bar + gap), 1),
                "y": round(height - bar_height, 1),
                "width": round(bar, 1),
                "height": bar_height,
                "day": day,
                "value": value,
            }
        )
    return {"width": width, "height": height, "bars": bars, "top": top}
