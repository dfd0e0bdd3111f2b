"""The apply-credit API's plain case in a constant four statements (PostgreSQL).

``POST /api/submissions/{id}/apply-credit`` with an ``Idempotency-Key`` goes through the
``idempotent`` wrapper and ``wallet_apply_credit`` in some thirty statements. The plain case (a
key not used before, the buyer's own submission, enough unexpired credit, no grant due to
expire, a payment that leaves the submission in the state it is in, no webhook endpoint to
tell) is answered here, writing the same rows:

1. ``BEGIN``;
2. one read: the key's advisory lock (taken: 409) and whether it has an answer already; the
   submission with its group order, the buyer's wallet with the order's GOM and its spendable
   grants, locked in the general path's order (submission, wallet, grants in spending order);
   whether a grant is due to expire, whether the payment's key was used, whether an endpoint
   wants the event, and the new payment's id;
3. one statement writing the payment, the grants' new amounts, the wallet entries, the
   wallet's balance, the allocation, the submission's paid amount, the history rows of payment,
   grants and submission, both audit events and the key's answer;
4. ``COMMIT``.

The rules are ``credit_payable``, ``credit_amount`` and ``spend_plan``, the general path's own.
Anything else rolls back and returns None for the general path (see ``keyed``).
tests/money/test_keyed_credit.py holds the rows written equal to the general path's.
"""

import functools
from typing import Any

from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEvent
from audit.services import audit_event
from core.model_rows import (
    from_row,
    history_copy_sql,
    history_user_id,
    insert_rows_sql,
    row_columns,
    rows_json,
)
from core.prepared import PreparedStatement
from core.sql_names import column, table
from payments.models import (
    GroupOrder,
    IdempotencyRecord,
    Payment,
    PaymentAllocation,
    Submission,
)
from payments.money import idempotency
from payments.money import services as money
from payments.money.keyed import (
    NotPlain,
    answer_plain_case,
    answer_row,
    key_check_params,
    key_checks_sql,
)
from wallet import services as wallet_services
from wallet.exceptions import InsufficientCredit
from wallet.models import CreditGrant, Wallet, WalletEntry
from webhooks.models import Endpoint, EventType

# The race test turns this off (wallet and grants read without their row locks) to show that
# those locks are what keep two applies from spending the same credit.
LOCKING = True


@functools.cache
def _read_statement(locking: bool) -> PreparedStatement:
    """Everything the rules need, locked, in one statement: one row per spendable grant.

    Locks in the general path's order: the submission, its buyer's wallet with the order's GOM,
    then the grants in spending order (NULL expiry last in PostgreSQL, as in wallet_spend). A
    row changed by a transaction this one waited for is re-read at its latest version. What is
    not locked (the key's answer, the payment key, an endpoint) is read from the statement's
    snapshot: a key answered in between loses on its unique index, and the general path answers.
    """
    endpoint_owner = column(Endpoint, "owner", "e")
    grant = functools.partial(column, CreditGrant)
    gom, buyer = column(GroupOrder, "owner", "g"), column(Submission, "buyer", "s")
    once = (
        f"SELECT {key_checks_sql()},"  # noqa: S608 (names from the models)
        f" EXISTS (SELECT 1 FROM {table(Payment, 'q')}"
        f" WHERE {column(Payment, 'idempotency_key', 'q')} = %s) AS used,"
        f" nextval(pg_get_serial_sequence('{Payment._meta.db_table}', 'id')) AS payment_id"
    )
    expiring = (
        f"EXISTS (SELECT 1 FROM {table(CreditGrant, 'x')} WHERE {grant('wallet', 'x')} = w.id"  # noqa: S608 (names from the models)
        f" AND {grant('status', 'x')} = %s AND {grant('expires_at', 'x')} <= %s)"
    )
    told = (
        f"EXISTS (SELECT 1 FROM {table(Endpoint, 'e')}"  # noqa: S608 (names from the models)
        f" WHERE ({endpoint_owner} = {gom} OR {endpoint_owner} IS NULL)"
        f" AND {column(Endpoint, 'is_active', 'e')}"
        f" AND {column(Endpoint, 'event_types', 'e')} @> jsonb_build_array(%s::text))"
    )
    sql = (
        f"WITH once AS MATERIALIZED ({once})"  # noqa: S608 (names from the models)
        f" SELECT once.*, {expiring}, {told}, {row_columns(Submission, 's')},"
        f" {row_columns(GroupOrder, 'g')}, {row_columns(Wallet, 'w')},"
        f" {row_columns(CreditGrant, 'x')}"
        f" FROM once CROSS JOIN {table(Submission, 's')}"
        f" JOIN {table(GroupOrder, 'g')} ON g.id = {column(Submission, 'group_order', 's')}"
        f" JOIN {table(Wallet, 'w')} ON {column(Wallet, 'buyer', 'w')} = {buyer}"
        f" AND {column(Wallet, 'issuer', 'w')} = {gom}"
        f" AND {column(Wallet, 'currency', 'w')} = {column(Submission, 'currency', 's')}"
        f" JOIN {table(CreditGrant, 'x')} ON {grant('wallet', 'x')} = w.id"
        f" AND {grant('status', 'x')} = %s AND {grant('remaining_minor', 'x')} > 0"
        f" WHERE s.id = %s AND {buyer} = %s"
        f" ORDER BY {grant('expires_at', 'x')}, {grant('created_at', 'x')}, x.id"
        + (" FOR UPDATE OF s, w, x" if locking else " FOR UPDATE OF s")
    )
    name = "payments_keyed_credit_read" if locking else "payments_keyed_credit_read_no_lock"
    # The key's lock id, user and key; the payment key; the expiring grant's status and time;
    # the event; the spendable grant's status; the submission and its buyer.
    types = ["bigint", "bigint", "text", "text", "text", "timestamptz", "text", "text"]
    return PreparedStatement(name, sql, [*types, "bigint", "bigint"])


# A read row: the six facts, then the submission's, the order's, the wallet's and a grant's
# columns.
_FACTS = 6


@functools.cache
def _bounds() -> tuple[int, int, int]:
    """Where the order's, the wallet's and the grant's columns start in a read row."""
    order = _FACTS + len(Submission._meta.concrete_fields)
    wallet = order + len(GroupOrder._meta.concrete_fields)
    return order, wallet, wallet + len(Wallet._meta.concrete_fields)


@functools.cache
def _write_statement() -> PreparedStatement:
    """The one statement that writes an apply (parameters in the order of its parts)."""
    remaining, used, status = (
        column(CreditGrant, name) for name in ("remaining_minor", "is_fully_used", "status")
    )
    balance, wallet_updated = column(Wallet, "balance_minor"), column(Wallet, "updated_at")
    paid, submission_updated = column(Submission, "paid_minor"), column(Submission, "updated_at")
    sql = (
        f"WITH p AS ({insert_rows_sql(Payment, with_pk=True)} RETURNING *),"  # noqa: S608 (names from the models)
        f" ph AS ({history_copy_sql(Payment, 'p')}),"
        f" g AS (UPDATE {table(CreditGrant, 't')} SET {remaining} = v.{remaining},"
        f" {used} = v.{used}, {status} = v.{status}"
        f" FROM jsonb_populate_recordset(NULL::{table(CreditGrant)}, %s) AS v"
        f" WHERE t.id = v.id RETURNING t.*),"
        f" gh AS ({history_copy_sql(CreditGrant, 'g')}),"
        f" e AS ({insert_rows_sql(WalletEntry, with_pk=False)}),"
        f" w AS (UPDATE {table(Wallet)} SET {balance} = %s, {wallet_updated} = %s WHERE id = %s"
        f" RETURNING 1),"
        f" a AS ({insert_rows_sql(PaymentAllocation, with_pk=False)}),"
        f" s AS (UPDATE {table(Submission)} SET {paid} = %s, {submission_updated} = %s"
        f" WHERE id = %s RETURNING *),"
        f" sh AS ({history_copy_sql(Submission, 's')}),"
        f" ev AS ({insert_rows_sql(AuditEvent, with_pk=False)}),"
        f" k AS ({insert_rows_sql(IdempotencyRecord, with_pk=False)})"
        f" SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM g),"
        f" (SELECT count(*) FROM w), (SELECT count(*) FROM s)"
    )
    return PreparedStatement("payments_keyed_credit_write", sql, None)


def apply_credit_keyed(
    request: Request, submission_id: int, amount_minor: int | None, render: Any
) -> Response | None:
    """Answer a valid apply-credit request in the plain case, or return None for the general
    path. ``render(payment, submission)`` gives the response body."""
    return answer_plain_case(
        request,
        lambda key: _plain_case(request, submission_id, amount_minor, key, render),
        locking=wallet_services.LOCKING,
    )


def _plain_case(
    request: Request, submission_id: int, amount_minor: int | None, key: str, render: Any
) -> Response:
    user = request.user
    payment_key = idempotency.service_key(request, key)
    now = timezone.now()
    active = CreditGrant.Status.ACTIVE.value
    with connection.cursor() as cursor:
        _read_statement(LOCKING).execute(
            cursor,
            [
                *key_check_params(request, key),
                payment_key,
                active,
                now,
                EventType.PAYMENT_RECORDED.value,
                active,
                submission_id,
                user.pk,
            ],
        )
        fetched = cursor.fetchall()
    if not fetched:  # not this buyer's submission, no wallet, no credit: the general path says
        raise NotPlain
    first = fetched[0]
    got, answered, used, payment_id, expiring, told = first[:_FACTS]
    if not got:
        return idempotency.busy()
    if answered or used or expiring or told:  # a replay, an expiry to write, deliveries
        raise NotPlain
    order_at, wallet_at, grant_at = _bounds()
    row: Submission = from_row(Submission, first[_FACTS:order_at])
    row.group_order = from_row(GroupOrder, first[order_at:wallet_at])
    money.credit_payable(row, amount_minor)
    wallet: Wallet = from_row(Wallet, first[wallet_at:grant_at])
    grants = [from_row(CreditGrant, values[grant_at:]) for values in fetched]
    amount = money.credit_amount(row, amount_minor, wallet.balance_minor)
    wallet_services.race_window()  # zero outside the race tests
    if sum(grant.remaining_minor for grant in grants) < amount:
        raise InsufficientCredit("Not enough unexpired credit.")
    row.paid_minor += amount
    if money.settled_status(row) != row.status:  # a change of state: the general path
        raise NotPlain
    return _write(request, key, render, row, wallet, grants, amount, payment_id, payment_key, now)


def _write(
    request: Request,
    key: str,
    render: Any,
    row: Submission,
    wallet: Wallet,
    grants: list[CreditGrant],
    amount: int,
    payment_id: int,
    payment_key: str,
    now: Any,
) -> Response:
    user = request.user
    payment = money.credit_payment(
        row, amount_minor=amount, idempotency_key=payment_key, actor=user, paid_at=now
    )
    payment.pk = payment_id
    plan = wallet_services.spend_plan(grants, amount)
    entries = wallet_services.spend_entries(
        wallet,
        plan,
        key=money.spend_key(payment),
        actor=user,
        reason=f"Paid submission {row.code}",
        source=("payments.payment", str(payment.pk)),
    )
    used_event = audit_event(
        actor=user,
        action="wallet.credit_used",
        target=wallet,
        after={
            "amount_minor": amount,
            "grants": [grant.pk for grant, _take in plan],
            "source": f"payments.payment:{payment.pk}",
            "balance_minor": wallet.balance_minor,
        },
    )
    recorded_event = audit_event(
        actor=user,
        action="payment.recorded",
        target=payment,
        after=money.credit_payment_audit(payment, row.code),
    )
    allocation = PaymentAllocation(payment_id=payment.pk, submission_id=row.pk, amount_minor=amount)
    body = render(payment, row)
    author = history_user_id()
    spent = [
        {
            "id": grant.pk,
            "remaining_minor": grant.remaining_minor,
            "is_fully_used": grant.is_fully_used,
            "status": grant.status,
        }
        for grant, _take in plan
    ]
    with connection.cursor() as cursor:
        _write_statement().execute(
            cursor,
            [
                rows_json([payment], with_pk=True),
                now,
                "+",
                author,
                Jsonb(spent),
                now,
                "~",
                author,
                rows_json(entries, with_pk=False),
                wallet.balance_minor,
                now,
                wallet.pk,
                rows_json([allocation], with_pk=False),
                row.paid_minor,
                now,
                row.pk,
                now,
                "~",
                author,
                rows_json([used_event, recorded_event], with_pk=False),
                rows_json([answer_row(request, key, body)], with_pk=False),
            ],
        )
        if cursor.fetchone() != (1, len(plan), 1, 1):
            raise NotPlain
    return Response(body, status=201)
