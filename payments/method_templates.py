"""What each provider's payment method needs, per country, and how its receipts print a reference.

These are facts about providers, not data a user edits, so they live in code and ship with it.
Reference patterns match a reference after `normalize_reference` (spaces and dashes kept as the
receipt prints them are removed, letters upper-cased). Where no reliable source documents a
provider's reference shape (docs/FORMATS.md says NOT FOUND), the pattern is a generic
alphanumeric one and `reference_documented` is False, so nothing downstream trusts it too much.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Country(models.TextChoices):
    PH = "PH", _("Philippines")
    MY = "MY", _("Malaysia")


class MethodType(models.TextChoices):
    GCASH = "gcash", "GCash"
    MAYA = "maya", "Maya"
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    TNG = "tng", "Touch 'n Go eWallet"
    DUITNOW = "duitnow", "DuitNow"
    BOOST = "boost", "Boost"
    GRABPAY = "grabpay", "GrabPay"
    SHOPEEPAY = "shopeepay", "ShopeePay"
    CASH = "cash", _("Cash")


def _digits_only(value: str) -> str:
    return re.sub(r"[\s-]", "", value)


def _ph_mobile(value: str) -> str:
    digits = re.sub(r"[\s()-]", "", value)
    if digits.startswith("+63"):
        digits = "0" + digits[3:]
    elif digits.startswith("63") and len(digits) == 12:
        digits = "0" + digits[2:]
    return digits


def _my_mobile(value: str) -> str:
    digits = re.sub(r"[\s()-]", "", value)
    if digits.startswith("+60"):
        digits = "0" + digits[3:]
    elif digits.startswith("60") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits


@dataclass(frozen=True)
class FieldSpec:
    """One required account detail: how to clean what the GOM typed and what it must look like."""

    name: str
    label: str
    pattern: str
    message: str
    normalize: Callable[[str], str] = str.strip

    def clean(self, raw: str) -> tuple[str, str | None]:
        """Return the normalized value and an error message (None when valid)."""
        value = self.normalize(raw or "")
        if not value:
            return value, f"{self.label} is required."
        if not re.fullmatch(self.pattern, value):
            return value, self.message
        return value, None


ACCOUNT_NAME = FieldSpec(
    "account_name",
    _("Account name"),
    r"[^\x00-\x1f]{2,100}",
    _("Enter the account holder's name as the provider shows it (2 to 100 characters)."),
)
PH_MOBILE = FieldSpec(
    "account_number",
    _("Mobile number"),
    r"09\d{9}",
    _("Enter a Philippine mobile number such as 0917 123 4567."),
    _ph_mobile,
)
MY_MOBILE = FieldSpec(
    "account_number",
    _("Mobile number"),
    r"01\d{8,9}",
    _("Enter a Malaysian mobile number such as 012-345 6789."),
    _my_mobile,
)


def _bank_account(digits: str, example: str) -> FieldSpec:
    return FieldSpec(
        "account_number",
        _("Account number"),
        rf"\d{{{digits}}}",
        _("Enter the account number: %(digits)s digits, such as %(example)s.")
        % {"digits": digits.replace(",", " to "), "example": example},
        _digits_only,
    )


DUITNOW_ID_TYPE = FieldSpec(
    "duitnow_id_type",
    _("DuitNow ID type"),
    r"mobile|nric|passport|business|army_police",
    _("Choose mobile, nric, passport, business or army_police."),
)
DUITNOW_ID = FieldSpec(
    "account_number",
    _("DuitNow ID"),
    r"[0-9A-Z]{6,20}",
    _("Enter the DuitNow ID (mobile, NRIC, passport or business registration number)."),
    lambda value: _digits_only(value).upper(),
)
CASH_PLACE = FieldSpec(
    "account_name",
    _("Meet-up place or contact"),
    r"[^\x00-\x1f]{2,100}",
    _("Say where or with whom cash is handed over (2 to 100 characters)."),
)

# Generic shape for providers whose receipt reference is not documented in any source we trust.
_GENERIC_REFERENCE = r"[0-9A-Z]{6,30}"


@dataclass(frozen=True)
class PaymentMethodTemplate:
    code: str
    country: str
    method_type: str
    name: str
    fields: tuple[FieldSpec, ...]
    reference_pattern: str
    reference_label: str
    reference_example: str = ""
    reference_documented: bool = True
    qr_allowed: bool = True
    bank_name: str = ""
    provider_aliases: tuple[str, ...] = field(default=())

    def matches_reference(self, reference: str) -> bool:
        return bool(self.reference_pattern) and bool(
            re.fullmatch(self.reference_pattern, normalize_reference(reference))
        )

    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]


_REFERENCE_NOISE = re.compile(r"[\s.]")


def normalize_reference(reference: str) -> str:
    """Strip the spaces and dots receipts print inside a reference; upper-case its letters."""
    return _REFERENCE_NOISE.sub("", reference or "").upper()


def _ewallet(
    code: str, country: str, method_type: str, name: str, *, pattern: str = "", **extra: object
) -> PaymentMethodTemplate:
    mobile = PH_MOBILE if country == Country.PH else MY_MOBILE
    return PaymentMethodTemplate(
        code=code,
        country=country,
        method_type=method_type,
        name=name,
        fields=(ACCOUNT_NAME, mobile),
        reference_pattern=pattern or _GENERIC_REFERENCE,
        reference_documented=bool(pattern),
        **extra,  # type: ignore[arg-type]
    )


def _bank(
    code: str,
    country: str,
    name: str,
    digits: str,
    example: str,
    *,
    pattern: str = "",
    **extra: object,
) -> PaymentMethodTemplate:
    return PaymentMethodTemplate(
        code=code,
        country=country,
        method_type=MethodType.BANK_TRANSFER,
        name=name,
        bank_name=name,
        fields=(ACCOUNT_NAME, _bank_account(digits, example)),
        reference_pattern=pattern or _GENERIC_REFERENCE,
        reference_documented=bool(pattern),
        **extra,  # type: ignore[arg-type]
    )


def _cash(code: str, country: str) -> PaymentMethodTemplate:
    # Cash has no receipt and so no reference to read; only where it changes hands.
    return PaymentMethodTemplate(
        code=code,
        country=country,
        method_type=MethodType.CASH,
        name="Cash",
        fields=(CASH_PLACE,),
        reference_pattern="",
        reference_label="",
        reference_documented=False,
        qr_allowed=False,
    )


# DuitNow / RPP end-to-end id: YYYYMMDD + 8-character BIC + 14 more (30 characters in all).
DUITNOW_E2E = r"20\d{6}[A-Z]{6}[A-Z0-9]{2}\d{3}O[A-Z]{2}\d{8}"

TEMPLATES: tuple[PaymentMethodTemplate, ...] = (
    # --- Philippines ---
    _ewallet(
        "ph-gcash",
        Country.PH,
        MethodType.GCASH,
        "GCash",
        pattern=r"\d{13}",
        reference_label="Ref No.",
        reference_example="7037 651 006674",
    ),
    _ewallet(
        "ph-maya",
        Country.PH,
        MethodType.MAYA,
        "Maya",
        pattern=r"[0-9A-Z]{12}",
        reference_label="Reference ID",
        reference_example="EB8C C4C5 C67B",
        provider_aliases=("PayMaya",),
    ),
    _bank("ph-bpi", Country.PH, "BPI", "10", "1234 5678 90", reference_label="Reference No."),
    _bank(
        "ph-bdo",
        Country.PH,
        "BDO",
        "10,12",
        "0012 3456 7890",
        pattern=r"BN-?\d{8}-?\d{8}",
        reference_label="Reference no.",
        reference_example="BN-20260128-49830535",
    ),
    _bank(
        "ph-unionbank",
        Country.PH,
        "UnionBank",
        "12",
        "1094 2000 1234",
        pattern=r"UB\d{6,12}",
        reference_label="Reference Number",
        reference_example="UB788531",
    ),
    _bank(
        "ph-metrobank",
        Country.PH,
        "Metrobank",
        "13",
        "123 3 12345678 9",
        reference_label="Reference No.",
    ),
    _bank(
        "ph-landbank", Country.PH, "Landbank", "10", "1234 5678 90", reference_label="Reference No."
    ),
    _bank(
        "ph-gotyme",
        Country.PH,
        "GoTyme Bank",
        "12",
        "0123 4567 8901",
        reference_label="Reference No.",
    ),
    _ewallet(
        "ph-shopeepay",
        Country.PH,
        MethodType.SHOPEEPAY,
        "ShopeePay",
        reference_label="Transaction ID",
    ),
    _ewallet(
        "ph-grabpay", Country.PH, MethodType.GRABPAY, "GrabPay", reference_label="Transaction ID"
    ),
    _cash("ph-cash", Country.PH),
    # --- Malaysia ---
    _bank(
        "my-maybank",
        Country.MY,
        "Maybank",
        "12",
        "1140 1234 5678",
        pattern=r"\d{10}|MYIG\d{13}",
        reference_label="Reference ID",
        reference_example="9490679647",
        provider_aliases=("Maybank2u", "MAE"),
    ),
    _bank(
        "my-cimb",
        Country.MY,
        "CIMB Bank",
        "10,14",
        "8001 2345 67",
        pattern=r"20\d{16}",
        reference_label="Reference No.",
        reference_example="202608070343897254",
    ),
    _bank(
        "my-publicbank",
        Country.MY,
        "Public Bank",
        "10",
        "3123 4567 89",
        pattern=r"\d{16}",
        reference_label="Reference No.",
        reference_example="2608070370908566",
    ),
    _bank(
        "my-rhb",
        Country.MY,
        "RHB Bank",
        "14",
        "2123 4500 0123 45",
        pattern=r"\d{12}",
        reference_label="Reference Number",
        reference_example="260806446749",
    ),
    _bank(
        "my-hongleong",
        Country.MY,
        "Hong Leong Bank",
        "11,12",
        "2350 0123 456",
        pattern=r"C\d{15}",
        reference_label="Transaction Reference No.",
        reference_example="C765070826120713",
    ),
    _ewallet(
        "my-tng",
        Country.MY,
        MethodType.TNG,
        "Touch 'n Go eWallet",
        pattern=DUITNOW_E2E,
        reference_label="DuitNow Ref No.",
        reference_example="20260918TNGDMYNB010ORM42680415",
    ),
    PaymentMethodTemplate(
        code="my-duitnow-id",
        country=Country.MY,
        method_type=MethodType.DUITNOW,
        name="DuitNow ID",
        fields=(ACCOUNT_NAME, DUITNOW_ID_TYPE, DUITNOW_ID),
        reference_pattern=DUITNOW_E2E,
        reference_label="DuitNow Ref No.",
        reference_example="20251209GXSPMYKL010ORB79174342",
        qr_allowed=False,
    ),
    PaymentMethodTemplate(
        code="my-duitnow-qr",
        country=Country.MY,
        method_type=MethodType.DUITNOW,
        name="DuitNow QR",
        fields=(ACCOUNT_NAME,),
        reference_pattern=DUITNOW_E2E,
        reference_label="DuitNow Ref No.",
        reference_example="20251209GXSPMYKL030OQR15900197",
        qr_allowed=True,
    ),
    _ewallet("my-boost", Country.MY, MethodType.BOOST, "Boost", reference_label="Transaction ID"),
    _ewallet(
        "my-grabpay", Country.MY, MethodType.GRABPAY, "GrabPay", reference_label="Transaction ID"
    ),
    _ewallet(
        "my-shopeepay",
        Country.MY,
        MethodType.SHOPEEPAY,
        "ShopeePay",
        reference_label="Transaction ID",
    ),
    _cash("my-cash", Country.MY),
)

_BY_CODE = {template.code: template for template in TEMPLATES}
TEMPLATE_CHOICES = [(t.code, f"{t.name} ({t.country})") for t in TEMPLATES]


def get_template(code: str) -> PaymentMethodTemplate:
    """Return the template with this code; KeyError names the unknown code."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown payment method template {code!r}") from None


def templates_for_country(country: str) -> list[PaymentMethodTemplate]:
    return [template for template in TEMPLATES if template.country == country]


def validate_account_details(
    template: PaymentMethodTemplate, values: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Clean account details against a template; return (cleaned values, errors by field)."""
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in template.fields:
        value, error = spec.clean(values.get(spec.name, ""))
        cleaned[spec.name] = value
        if error:
            errors[spec.name] = str(error)
    return cleaned, errors
