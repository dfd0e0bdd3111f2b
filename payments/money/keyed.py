"""What the money API's plain cases share (``keyed_refund``, ``keyed_credit``).

A plain case answers a keyed POST in a constant handful of statements on PostgreSQL, writing
the rows the general path (``idempotent`` + the money service) would. When it is not the plain
case, the attempt is rolled back and the general path answers, and remembers the answer, as
usual.
"""

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core.sql_names import column, table
from payments.exceptions import PaymentsError
from payments.models import IdempotencyRecord
from payments.money import idempotency
from wallet.exceptions import WalletError


class NotPlain(Exception):
    """Not the plain case: the general path answers."""


def answer_plain_case(
    request: Request, plain: Callable[[str], Response], *, locking: bool = True
) -> Response | None:
    """Run ``plain(key)`` in one transaction; None when the general path must answer.

    ``locking`` False (a race control turned a lock off) always takes the general path.
    """
    key = request.headers.get(idempotency.HEADER)
    if (
        connection.vendor != "postgresql"
        or not idempotency.valid_key(key)
        or not idempotency.ATOMIC_RESERVATION  # the race controls take the general path
        or not locking
    ):
        return None
    try:
        with transaction.atomic():
            return plain(key)  # type: ignore[arg-type]
    except (NotPlain, PaymentsError, WalletError, IntegrityError):
        # Rolled back: nothing of this attempt remains. A refusal's wording, a key's replay and
        # a lost race on a unique key are the general path's to answer.
        return None


def key_checks_sql() -> str:
    """Two columns for a plain case's first statement: the key's advisory lock (taken without
    waiting) and whether the key has an answer already. Parameters: lock id, user id, key."""
    record = table(IdempotencyRecord, "k")
    return (
        "pg_try_advisory_xact_lock(%s),"  # noqa: S608 (names from the models)
        f" EXISTS (SELECT 1 FROM {record} WHERE {column(IdempotencyRecord, 'user', 'k')} = %s"
        f" AND {column(IdempotencyRecord, 'key', 'k')} = %s)"
    )


def key_check_params(request: Request, key: str) -> list[Any]:
    return [idempotency.key_lock_id(request.user.pk, key), request.user.pk, key]


def answer_row(request: Request, key: str, body: dict[str, Any]) -> IdempotencyRecord:
    """The key's answer (201 with ``body``), to be written with the money it moved."""
    return IdempotencyRecord(
        user_id=request.user.pk,
        key=key,
        fingerprint=idempotency.fingerprint(request),
        response_status=201,
        response_body=body,
    )
