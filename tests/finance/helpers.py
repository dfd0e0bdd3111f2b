"""Builders for the finance tests: accounts, paid submissions, statement files, imports."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from payments.models import COUNTRY_TIMEZONE, Payment, PaymentMethod, Submission
from payments.money.services import payment_record
from payments.reconciliation.importing import statement_create, statement_import
from payments.reconciliation.models import Statement, StatementMapping
from tests.factories import (
    GroupOrderFactory,
    PaymentMethodFactory,
    StaffFactory,
    SubmissionFactory,
    UserFactory,
)

TEMPLATES = {
    "gcash": "ph-gcash",
    "maya_mdtr": "ph-maya",
    "bpi": "ph-bpi",
    "bdo_legacy": "ph-bdo",
    "bdo": "ph-bdo",
    "unionbank": "ph-unionbank",
    "maybank_biz": "my-maybank",
    "maybank": "my-maybank",
    "cimb": "my-cimb",
    "public_bank": "my-publicbank",
    "hlb": "my-hongleong",
    "tng_v1": "my-tng",
    "tng_v2": "my-tng",
}
_TYPES = {"ph-gcash": "gcash", "ph-maya": "maya", "my-tng": "tng"}


def account(template_code: str, *, owner: Any = None) -> PaymentMethod:
    country = template_code[:2].upper()
    return PaymentMethodFactory(
        owner=owner or StaffFactory(),
        template_code=template_code,
        method_type=_TYPES.get(template_code, "bank_transfer"),
        country=country,
        display_name=template_code,
    )


def local(method: PaymentMethod, text: str) -> datetime:
    """A wall-clock time in the account's country, e.g. ``2026-03-02 09:00``."""
    zone = ZoneInfo(COUNTRY_TIMEZONE[method.country])
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)


def paid(
    method: PaymentMethod,
    amount_minor: int,
    *,
    reference: str,
    when: str,
    buyer_name: str = "Sample Buyer",
    buyer: Any = None,
    order: Any = None,
    key: str = "",
) -> Payment:
    """A verified payment (source proof) of one new submission into ``method``'s GOM."""
    currency = "PHP" if method.country == "PH" else "MYR"
    order = order or GroupOrderFactory(
        owner=method.owner, country=method.country, currency=currency
    )
    buyer = buyer or UserFactory(full_name=buyer_name)
    submission = SubmissionFactory(
        group_order=order,
        buyer=buyer,
        buyer_name=buyer_name,
        amount_due_minor=amount_minor,
        payment_method=method,
    )
    return payment_record(
        actor=method.owner,
        buyer=buyer,
        currency=currency,
        amount_minor=amount_minor,
        method_type=method.method_type,
        source=Payment.Source.PROOF,
        paid_at=local(method, when),
        idempotency_key=key or f"test-pay-{submission.pk}",
        allocations=[(submission, amount_minor)],
        reference=reference,
        payment_method=method,
    )


def import_file(
    method: PaymentMethod,
    data: bytes,
    *,
    preset: str = "",
    mapping: StatementMapping | None = None,
    name: str = "statement.csv",
    actor: Any = None,
    year: int | None = 2026,
) -> Statement:
    statement = statement_create(
        actor=actor or method.owner,
        payment_method=method,
        data=data,
        file_name=name,
        preset=preset,
        mapping=mapping,
    )
    return statement_import(statement_id=statement.pk, year=year)


def submission_of(payment: Payment) -> Submission:
    return payment.allocations.get().submission
