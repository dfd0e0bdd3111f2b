"""Small builders shared by the money tests: a paid submission, credit, an audit summary."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connection

from audit.models import AuditEvent
from payments.models import Payment, Submission
from payments.money import services as money
from wallet.models import CreditGrant
from wallet.services import wallet_grant_credit

PAID_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def record(
    submissions: list[tuple[Submission, int]],
    amount_minor: int,
    *,
    actor: Any = None,
    key: str = "pay-1",
    method_type: str = "gcash",
    source: str = Payment.Source.MANUAL,
    paid_at: datetime = PAID_AT,
) -> Payment:
    first = submissions[0][0]
    return money.payment_record(
        actor=actor or first.group_order.owner,
        buyer=first.buyer,
        group_order=first.group_order,
        currency=first.currency,
        amount_minor=amount_minor,
        method_type=method_type,
        source=source,
        paid_at=paid_at,
        idempotency_key=key,
        allocations=submissions,
        reference="1234567890123",
    )


def grant(
    buyer: Any,
    issuer: Any,
    amount_minor: int,
    *,
    key: str,
    expires_at: datetime | None = None,
    kind: str = CreditGrant.Kind.GOODWILL,
    currency: str = "PHP",
) -> CreditGrant:
    return wallet_grant_credit(
        actor=issuer,
        buyer=buyer,
        issuer=issuer,
        currency=currency,
        amount_minor=amount_minor,
        kind=kind,
        description="Sorry for the delay",
        idempotency_key=key,
        expires_at=expires_at,
    )


def actions() -> list[str]:
    """Return the audit actions written so far, oldest first."""
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


@contextmanager
def other_session() -> Iterator[psycopg.Connection[Any]]:
    """A second connection to the test database, outside Django (its own transaction)."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as other:
        yield other


@contextmanager
def key_running_elsewhere(user_id: int, key: str) -> Iterator[None]:
    """Hold, from another session, the advisory lock of a request running with (user, key).

    The lock's name is computed here from the documented rule (sha256 of "user:key", first 8
    bytes, signed), not by the code under test.
    """
    digest = hashlib.sha256(f"{user_id}:{key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with other_session() as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        yield
