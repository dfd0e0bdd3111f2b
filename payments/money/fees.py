"""Which fee a provider charged: the rule in force on the payment's local date."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext

from core.money import format_money, percent_of
from payments.models import FeeRule

_CURRENCY_TIMEZONE = {"PHP": ZoneInfo("Asia/Manila"), "MYR": ZoneInfo("Asia/Kuala_Lumpur")}


def local_date(moment: datetime, currency: str) -> date:
    """Return the calendar date of ``moment`` where the currency's buyers live."""
    return moment.astimezone(_CURRENCY_TIMEZONE[currency]).date()


def feerule_in_force(*, method_type: str, currency: str, on: date) -> FeeRule | None:
    """Return the fee rule for a method in force on a date, or None when none is."""
    return (
        FeeRule.objects.filter(method_type=method_type, currency=currency, effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))
        .order_by("-effective_from")
        .first()
    )


def fee_compute(*, rule: FeeRule | None, amount_minor: int) -> int:
    """Return the fee a rule charges on an amount (percentage rounded half up, plus the fixed)."""
    if rule is None:
        return 0
    return percent_of(amount_minor, rule.percent_basis_points) + rule.fixed_minor


def fee_describe(*, rule: FeeRule | None, currency: str) -> str:
    """Say what a rule charges, for the buyer's pay page: ``3.5% + ₱10.00``, or ``no fee``."""
    if rule is None or (rule.percent_basis_points == 0 and rule.fixed_minor == 0):
        return gettext("no fee")
    parts = []
    if rule.percent_basis_points:
        # 350 basis points → "3.5%", 200 → "2%": no trailing zeros.
        percent = (Decimal(rule.percent_basis_points) / 100).normalize()
        parts.append(f"{percent:f}%")
    if rule.fixed_minor:
        parts.append(format_money(rule.fixed_minor, currency))
    return " + ".join(parts)


def local_month_start(moment: datetime, currency: str) -> datetime:
    """Return the first instant of ``moment``'s calendar month where the currency's buyers live."""
    local = moment.astimezone(_CURRENCY_TIMEZONE[currency])
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
