"""Money as integer minor units plus an ISO 4217 code, and the one way to show it to people."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext_lazy as _


class Currency(models.TextChoices):
    PHP = "PHP", _("Philippine peso")
    MYR = "MYR", _("Malaysian ringgit")


# How each currency is printed: symbol, whether a space follows it, and minor-unit digits.
_FORMATS: dict[str, tuple[str, str, int]] = {
    Currency.PHP: ("₱", "", 2),
    Currency.MYR: ("RM", " ", 2),
}


class MoneyError(ValueError):
    """An amount that cannot be read as money."""


def minor_units(currency: str) -> int:
    """Return how many decimal digits a currency's minor unit has."""
    return _FORMATS[currency][2]


def format_money(amount_minor: int, currency: str) -> str:
    """Format an amount for people: ``₱1,250.00``, ``RM 45.50``, ``-₱10.00``."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amount_minor must be an int")
    symbol, gap, digits = _FORMATS[currency]
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{symbol}{gap}{major:,}.{minor:0{digits}d}"


def parse_amount(text: str, currency: str) -> int:
    """Read a decimal amount such as ``1,250.00`` or ``45.5`` into minor units.

    Refuses more decimals than the currency has rather than rounding money silently.
    """
    digits = minor_units(currency)
    cleaned = text.strip().replace(",", "").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as error:
        raise MoneyError(f"“{text}” is not an amount") from error
    if not value.is_finite():
        raise MoneyError(f"“{text}” is not an amount")
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"“{text}” has more than {digits} decimals")
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount_minor: int, basis_points: int) -> int:
    """Return ``basis_points``/10,000 of an amount, rounded half up to a whole minor unit."""
    exact = Decimal(amount_minor) * Decimal(basis_points) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
