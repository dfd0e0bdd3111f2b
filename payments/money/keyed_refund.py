"""The refund API's plain case in a constant five statements (PostgreSQL).

``POST /api/payments/{id}/refunds`` with an ``Idempotency-Key`` goes through the ``idempotent``
wrapper and ``refund_request`` in some twenty statements, and most of the request's time is the
ORM's Python around them. The plain case (a key not used before, the buyer's own payment, a
request the rules allow) is answered here, writing the same rows:

1. ``BEGIN``;
2. the key's advisory lock (taken: 409), whether the key has an answer already, and the
   payment locked (``FOR UPDATE``) with its group order's refund policy;
3. read after the lock, so nothing committed meanwhile is missed: the payment's live
   allocations, each submission's state and refunds, and the new refund's id;
4. one statement that writes the refund and its history row, the payment's reservation and its
   history row, the audit event and the key's answer;
5. ``COMMIT``.

The rules are ``refund_target`` and ``refund_check``, the same as ``refund_request``'s. Anything
else (a key with an answer, a refusal, a lost race on a unique key, not PostgreSQL, the race
control) returns None: nothing was written, and the caller takes the general path, which answers
and remembers the answer as usual. tests/money/test_keyed_refund.py holds the rows written equal
to the general path's.
"""

import functools
import json
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEvent
from audit.services import audit_event
from core.model_rows import history_copy_sql, history_user_id, insert_rows_sql, rows_json
from core.prepared import PreparedStatement
from core.sql_names import column, table
from payments.models import (
    GroupOrder,
    IdempotencyRecord,
    Payment,
    PaymentAllocation,
    Refund,
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

# The race test turns this off (the payment is then read without its row lock) to show that
# the lock is what keeps concurrent refunds within the payment.
LOCKING = True


@functools.cache
def _lock_statement(locking: bool) -> PreparedStatement:
    sql = (
        f"SELECT {key_checks_sql()},"  # noqa: S608 (names from the models)
        f" {column(Payment, 'status', 'p')}, {column(Payment, 'amount_minor', 'p')},"
        f" {column(Payment, 'refund_reserved_minor', 'p')}, {column(Payment, 'currency', 'p')},"
        f" {column(GroupOrder, 'refunds_accepted_until', 'g')},"
        f" {column(GroupOrder, 'refund_reasons', 'g')}::text,"
        f" {column(GroupOrder, 'refundable_percent', 'g')}"
        f" FROM {table(Payment, 'p')} JOIN {table(GroupOrder, 'g')}"
        f" ON g.id = {column(Payment, 'group_order', 'p')}"
        f" WHERE p.id = %s AND {column(Payment, 'buyer', 'p')} = %s"
        + (" FOR UPDATE OF p" if locking else "")
    )
    name = "payments_keyed_refund_lock" if locking else "payments_keyed_refund_no_lock"
    return PreparedStatement(name, sql, ["bigint", "bigint", "text", "bigint", "bigint"])


@functools.cache
def _facts_statement() -> PreparedStatement:
    def refund(name: str) -> str:
        return column(Refund, name, "r")

    already = (
        f"(SELECT COALESCE(SUM({refund('amount_minor')}), 0)::bigint FROM {table(Refund, 'r')}"  # noqa: S608 (names from the models)
        f" WHERE {refund('payment')} = a.{column(PaymentAllocation, 'payment')}"
        f" AND {refund('submission')} = a.{column(PaymentAllocation, 'submission')}"
        f" AND {refund('status')} <> %s)"
    )
    sql = (
        f"SELECT {column(PaymentAllocation, 'submission', 'a')},"  # noqa: S608 (names from the models)
        f" {column(PaymentAllocation, 'amount_minor', 'a')},"
        f" {column(Submission, 'status', 's')}, {column(Submission, 'code', 's')}, {already},"
        f" nextval(pg_get_serial_sequence('{Refund._meta.db_table}', 'id'))"
        f" FROM {table(PaymentAllocation, 'a')} JOIN {table(Submission, 's')}"
        f" ON s.id = {column(PaymentAllocation, 'submission', 'a')}"
        f" WHERE {column(PaymentAllocation, 'payment', 'a')} = %s"
        f" AND NOT {column(PaymentAllocation, 'is_reversed', 'a')}"
    )
    return PreparedStatement("payments_keyed_refund_facts", sql, ["text", "bigint"])


@functools.cache
def _write_statement() -> PreparedStatement:
    """The one statement that writes a refund request (parameters in the order of its parts)."""
    reserved = column(Payment, "refund_reserved_minor")
    sql = (
        f"WITH r AS ({insert_rows_sql(Refund, with_pk=True)} RETURNING *),"  # noqa: S608 (names from the models)
        f" rh AS ({history_copy_sql(Refund, 'r')}),"
        f" p AS (UPDATE {table(Payment)} SET {reserved} = {reserved} + %s WHERE id = %s"
        f" RETURNING *),"
        f" ph AS ({history_copy_sql(Payment, 'p')}),"
        f" e AS ({insert_rows_sql(AuditEvent, with_pk=False)}),"
        f" k AS ({insert_rows_sql(IdempotencyRecord, with_pk=False)})"
        f" SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM p)"
    )
    return PreparedStatement("payments_keyed_refund_write", sql, None)


def refund_request_keyed(
    request: Request, payment_id: int, data: dict[str, Any], render: Any
) -> Response | None:
    """Answer a valid refund request (``data``: the serializer's) in the plain case, or
    return None for the general path. ``render(refund)`` gives the response body."""
    return answer_plain_case(
        request,
        lambda key: _plain_case(request, payment_id, data, key, render),
        locking=money.REFUND_LOCKING,
    )


def _plain_case(
    request: Request, payment_id: int, data: dict[str, Any], key: str, render: Any
) -> Response:
    user = request.user
    with connection.cursor() as cursor:
        _lock_statement(LOCKING).execute(
            cursor, [*key_check_params(request, key), payment_id, user.pk]
        )
        locked = cursor.fetchone()
        if locked is None:  # not this buyer's payment: the general path says 404
            raise NotPlain
        got, answered, status, amount, reserved, currency, until, reasons, percent = locked
        if not got:
            return idempotency.busy()
        if answered:
            raise NotPlain
        _facts_statement().execute(cursor, [Refund.Status.REJECTED.value, payment_id])
        live = {row[0]: row for row in cursor.fetchall()}
    wallet_services.race_window()  # zero outside the race tests
    submission_id = money.refund_target(live, data.get("submission_id"))
    _sid, allocated, submission_status, code, already, refund_id = live[submission_id]
    now = timezone.now()
    money.refund_check(
        money.RefundFacts(
            payment_status=status,
            payment_amount_minor=amount,
            refund_reserved_minor=reserved,
            currency=currency,
            allocated_minor=allocated,
            submission_status=submission_status,
            submission_code=code,
            already_minor=already,
            refunds_accepted_until=until,
            refund_reasons=json.loads(reasons) if reasons else [],
            refundable_percent=percent,
        ),
        amount_minor=data["amount_minor"],
        reason=data["reason"],
        now=now,
    )
    refund = Refund(
        pk=refund_id,
        payment_id=payment_id,
        submission_id=submission_id,
        buyer_id=user.pk,
        currency=currency,
        amount_minor=data["amount_minor"],
        destination=data["destination"],
        reason=data["reason"],
        details=data.get("details", "").strip()[:500],
        requested_by_id=user.pk,
        idempotency_key=idempotency.service_key(request, key),
    )
    event = audit_event(
        actor=user,
        action="refund.requested",
        target=refund,
        after=money.refund_requested_audit(payment_id, code, refund),
    )
    body = render(refund)
    author = history_user_id()
    with connection.cursor() as cursor:
        _write_statement().execute(
            cursor,
            [
                rows_json([refund], with_pk=True),
                now,
                "+",
                author,
                data["amount_minor"],
                payment_id,
                now,
                "~",
                author,
                rows_json([event], with_pk=False),
                rows_json([answer_row(request, key, body)], with_pk=False),
            ],
        )
        if cursor.fetchone() != (1, 1):
            raise NotPlain
    return Response(body, status=201)
