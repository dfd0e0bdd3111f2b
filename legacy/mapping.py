"""Pure translations of legacy values into ours: e-mails, money, statuses, payment methods.

Nothing here touches a database, so every rule is testable alone and documented in one place
(docs/legacy-import.md). When a value cannot be translated the functions say why in a sentence
that goes into the import report; they never guess.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.money import Currency, MoneyError, parse_amount
from payments.method_templates import TEMPLATES, get_template, validate_account_details
from payments.models import SubmissionStatus

COUNTRY_OF_CURRENCY = {Currency.PHP.value: "PH", Currency.MYR.value: "MY"}
PLACEHOLDER_DOMAIN = "import.invalid"

# Legacy submission status → ours. `paid` was confirmed by the payment gateway, so it is verified;
# `failed` was a payment attempt that did not go through: the buyer may pay again, which our
# table allows from `rejected` (→ proof_submitted).
SUBMISSION_STATUS_MAP: dict[str, str] = {
    "pending": SubmissionStatus.PENDING_PAYMENT,
    "paid": SubmissionStatus.VERIFIED,
    "failed": SubmissionStatus.REJECTED,
    "expired": SubmissionStatus.EXPIRED,
    "cancelled": SubmissionStatus.CANCELLED,
}


class Unmappable(ValueError):
    """A legacy value with no faithful translation; the message says why."""


def normalize_email(raw: Any) -> str | None:
    """Return the lower-cased address, or None when it is empty or not an address."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    email = raw.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def placeholder_email(kind: str, legacy_id: str) -> str:
    """An address that can never receive mail (RFC 2606 `.invalid`), unique per legacy row."""
    return f"legacy-{kind}-{legacy_id}@{PLACEHOLDER_DOMAIN}".lower()


def is_placeholder(email: str) -> bool:
    return email.endswith("@" + PLACEHOLDER_DOMAIN)


def normalize_currency(raw: Any) -> str:
    currency = str(raw or "").strip().upper()
    if currency not in COUNTRY_OF_CURRENCY:
        raise Unmappable(f"currency {raw!r} is neither PHP nor MYR")
    return currency


def amount_minor(raw: Any, currency: str) -> int:
    """Translate a DECIMAL(10,2) amount into minor units; refuse what is not a positive amount."""
    if raw is None:
        raise Unmappable("the amount is empty")
    try:
        value = parse_amount(str(Decimal(str(raw))), currency)
    except (MoneyError, ArithmeticError, ValueError) as error:
        raise Unmappable(f"the amount {raw!r} is not money: {error}") from error
    if value <= 0:
        raise Unmappable(f"the amount {raw} is not more than zero")
    return value


def source_minor(raw: Any) -> int | None:
    """Minor units of a legacy amount for the report's sums, in any currency; None if empty."""
    if raw is None:
        return None
    return int((Decimal(str(raw)) * 100).to_integral_value())


def map_submission_status(raw: Any) -> str:
    status = str(raw or "").strip().lower()
    if status not in SUBMISSION_STATUS_MAP:
        raise Unmappable(f"status {raw!r} is not one of {', '.join(SUBMISSION_STATUS_MAP)}")
    return SUBMISSION_STATUS_MAP[status]


def _key(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value or "").lower())


def _provider_aliases() -> dict[str, dict[str, str]]:
    """Spellings of each provider (normalised) → {country: template code}."""
    aliases: dict[str, dict[str, str]] = {}

    def add(spelling: str, code: str) -> None:
        aliases.setdefault(_key(spelling), {})[get_template(code).country] = code

    for template in TEMPLATES:
        for spelling in (template.name, template.bank_name, *template.provider_aliases):
            if spelling:
                add(spelling, template.code)
        # "bank_transfer" and "duitnow" name several templates; they need the bank or ID type.
        if template.method_type not in ("bank_transfer", "duitnow"):
            add(template.method_type, template.code)
    # Spellings the earlier platform's `method_type` enum and GOMs' free text use.
    for spelling, code in (
        ("paymaya", "ph-maya"),
        ("union bank", "ph-unionbank"),
        ("ubp", "ph-unionbank"),
        ("metro bank", "ph-metrobank"),
        ("land bank", "ph-landbank"),
        ("gotyme", "ph-gotyme"),
        ("maybank2u", "my-maybank"),
        ("m2u", "my-maybank"),
        ("cimb", "my-cimb"),
        ("cimb clicks", "my-cimb"),
        ("pbe", "my-publicbank"),
        ("public bank", "my-publicbank"),
        ("rhb", "my-rhb"),
        ("hlb", "my-hongleong"),
        ("hong leong", "my-hongleong"),
        ("tng", "my-tng"),
        ("touch_n_go", "my-tng"),
        ("touch n go", "my-tng"),
        ("tng ewallet", "my-tng"),
        ("duitnow", "my-duitnow-id"),
        ("duitnow id", "my-duitnow-id"),
    ):
        add(spelling, code)
    return aliases


PROVIDER_ALIASES = _provider_aliases()
_BANK_TYPES = {"bank", "banktransfer", "bankdeposit", "onlinebanking", "instapay", "pesonet"}

_TYPE_KEYS = ("method_type", "type", "method", "provider", "wallet", "channel")
_BANK_KEYS = ("bank_name", "bank", "bankname")
_NUMBER_KEYS = (
    "account_number",
    "accountnumber",
    "account_no",
    "accountno",
    "acct_no",
    "number",
    "mobile",
    "mobile_number",
    "phone",
)
_NAME_KEYS = ("account_name", "accountname", "account_holder", "holder", "name")
_QR_KEYS = ("qr_code_url", "qr_code", "qr_url", "qr")


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = values.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


@dataclass(frozen=True)
class MappedMethod:
    template_code: str
    display_name: str
    account_name: str
    account_number: str
    extra_details: dict[str, str]
    qr_code_url: str


def map_payment_method(raw: Any, country: str | None) -> MappedMethod:
    """Translate one free-form legacy method (a JSONB object or a `payment_methods` row).

    ``country`` is the GOM's (or the order's) country; None when unknown, in which case only a
    provider that exists in one country alone is accepted.
    """
    if not isinstance(raw, dict):
        raise Unmappable(f"the method is not an object but {type(raw).__name__}: {raw!r}")
    values = {re.sub(r"[\s-]+", "_", str(k).strip().lower()): v for k, v in raw.items()}
    kind = _first(values, _TYPE_KEYS)
    bank = _first(values, _BANK_KEYS)
    spelling = bank if _key(kind) in _BANK_TYPES or (not kind and bank) else kind
    if not spelling:
        raise Unmappable("the method names no provider (no type, method or bank)")
    by_country = PROVIDER_ALIASES.get(_key(spelling))
    if not by_country:
        raise Unmappable(f"no template for the provider {spelling!r}")
    if country is not None:
        code = by_country.get(country)
        if code is None:
            raise Unmappable(f"{spelling!r} is not a provider in {country}")
    elif len(by_country) == 1:
        [code] = by_country.values()
    else:
        raise Unmappable(f"{spelling!r} exists in several countries and the GOM's is unknown")
    template = get_template(code)
    details = {
        "account_name": _first(values, _NAME_KEYS),
        "account_number": _first(values, _NUMBER_KEYS),
    }
    for name in template.field_names():
        if name not in details:
            details[name] = _first(values, (name,))
    cleaned, errors = validate_account_details(template, details)
    if errors:
        problems = "; ".join(f"{field}: {message}" for field, message in sorted(errors.items()))
        raise Unmappable(f"{template.name} details are not valid ({problems})")
    display = _first(values, ("display_name", "displayname", "label", "title")) or template.name
    return MappedMethod(
        template_code=template.code,
        display_name=display[:100],
        account_name=cleaned.get("account_name", ""),
        account_number=cleaned.get("account_number", ""),
        extra_details={
            k: v for k, v in cleaned.items() if k not in ("account_name", "account_number")
        },
        qr_code_url=_first(values, _QR_KEYS),
    )


# Legacy proof decisions. Only `approved` and `rejected` are decisions; the others still await a
# human, which here means a submission in `proof_submitted` (the GOM's review queue).
PROOF_STATUSES = ("pending", "approved", "rejected", "flagged", "requires_review")
PROOF_AWAITING_REVIEW = frozenset({"pending", "flagged", "requires_review"})


def map_proof_status(raw: Any) -> str:
    status = str(raw or "").strip().lower()
    if status not in PROOF_STATUSES:
        raise Unmappable(f"verification status {raw!r} is not one of {', '.join(PROOF_STATUSES)}")
    return status


def map_method_type(raw: Any) -> str:
    """Our method type for a legacy transaction's free-text ``payment_method``; "" when unknown.

    Only a spelling that names one kind of method in every country counts ("gcash", "maya",
    "tng", "bank"); anything else ("card", "grab_pay" through a gateway…) stays "" (the payment
    then matches no fee rule) and the legacy text is kept in the map's details.
    """
    key = _key(raw)
    if not key:
        return ""
    if key in _BANK_TYPES:
        return "bank_transfer"
    kinds = {get_template(code).method_type for code in PROVIDER_ALIASES.get(key, {}).values()}
    return kinds.pop() if len(kinds) == 1 else ""
