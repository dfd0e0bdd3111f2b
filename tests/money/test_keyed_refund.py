"""The refund API's plain case (payments.money.keyed_refund): five statements, the same rows.

Every test here asserts which path answered (by the statements sent), and that what it wrote
or refused is exactly what the general path (``idempotent`` + ``refund_request``) does.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from payments import api
from payments.models import IdempotencyRecord, Payment, Refund
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import key_running_elsewhere, record

pytestmark = pytest.mark.django_db

BODY = {"amount_minor": 25_000, "destination": "wallet", "reason": "item_unavailable"}


def _paid(buyer: Any, order: Any, key: str) -> Payment:
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    return record([(submission, 100_000)], 100_000, key=key)


def _post(buyer: Any, payment: Payment, key: str, body: dict[str, Any] = BODY) -> Any:
    client = APIClient()
    client.force_authenticate(buyer)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/payments/{payment.pk}/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    response.statements = [query["sql"] for query in queries.captured_queries]
    return response


def _took_the_plain_case(response: Any) -> bool:
    return any(sql.startswith("EXECUTE payments_keyed_refund_lock") for sql in response.statements)


def _written(payment: Payment) -> dict[str, Any]:
    """Everything a refund request wrote for ``payment``, with its own ids taken out."""
    refund = Refund.objects.get(payment=payment)
    ids = {refund.pk: "R", payment.pk: "P", refund.submission_id: "S"}

    def plain(row: dict[str, Any]) -> dict[str, Any]:
        dropped = {"id", "history_id", "history_date", "created_at", "idempotency_key"}
        return {
            name: ids.get(value, value) if name.endswith(("id", "payment", "submission")) else value
            for name, value in row.items()
            if name not in dropped
        }

    refund_history = [plain(model_to_dict(h)) for h in Refund.history.filter(id=refund.pk)]
    payment_history = [
        plain(model_to_dict(h)) for h in Payment.history.filter(id=payment.pk, history_type="~")
    ]
    event = AuditEvent.objects.get(action="refund.requested", object_id=str(refund.pk))
    answer = IdempotencyRecord.objects.get(response_body__id=refund.pk)
    after = {**event.after, "payment": "P", "submission": "S"}
    return {
        "refund": plain(model_to_dict(refund)),
        "refund_history": [
            {**row, "history_type": row.get("history_type")} for row in refund_history
        ],
        "history_users": [
            (h.history_type, h.history_user_id)
            for h in [*Refund.history.filter(id=refund.pk), *Payment.history.filter(id=payment.pk)]
        ],
        "payment_reserved": Payment.objects.get(pk=payment.pk).refund_reserved_minor,
        "payment_history": payment_history,
        "event": (
            event.actor_id,
            event.object_type_id,
            event.object_repr.replace(f"#{refund.pk} ", "#R "),
            event.before,
            after,
            event.ip_address,
            bool(event.request_id),  # each request has its own
        ),
        "answer": (
            answer.user_id,
            answer.response_status,
            {**answer.response_body, "id": "R", "payment_id": "P", "submission_id": "S"},
        ),
    }


def test_the_plain_case_writes_what_the_general_path_writes(monkeypatch) -> None:
    buyer = UserFactory()
    order = GroupOrderFactory()
    fast, general = _paid(buyer, order, "pay-a"), _paid(buyer, order, "pay-b")

    ContentType.objects.get_for_model(Refund)  # cached for the process, as after any first use
    plain = _post(buyer, fast, "k-1")
    monkeypatch.setattr(api, "refund_request_keyed", lambda *args: None)
    other = _post(buyer, general, "k-2")

    assert (plain.status_code, other.status_code) == (201, 201)
    # The plain case: the lock, the facts and one write, in one transaction (a savepoint in
    # the test's transaction, BEGIN and COMMIT in a request's).
    work = [sql for sql in plain.statements if "SAVEPOINT" not in sql]
    names = [sql.split("(")[0] for sql in work]
    assert names == [
        "EXECUTE payments_keyed_refund_lock",
        "EXECUTE payments_keyed_refund_facts",
        "EXECUTE payments_keyed_refund_write",
    ]
    assert len(plain.statements) == 5
    assert not _took_the_plain_case(other)
    assert len(other.statements) > 12
    assert {**plain.data, "id": 0, "payment_id": 0, "submission_id": 0} == {
        **other.data,
        "id": 0,
        "payment_id": 0,
        "submission_id": 0,
    }
    assert plain.data["amount"] == "₱250.00"
    assert _written(fast) == _written(general)
    assert _written(fast)["payment_reserved"] == 25_000
    assert _written(fast)["history_users"][0] == ("+", buyer.pk)


def _nothing_written(payment: Payment) -> None:
    assert Refund.objects.filter(payment=payment).count() == 0
    assert Payment.objects.get(pk=payment.pk).refund_reserved_minor == 0
    assert Payment.history.filter(id=payment.pk, history_type="~").count() == 0
    assert not AuditEvent.objects.filter(action="refund.requested").exists()


@pytest.mark.parametrize(
    ("change", "body", "detail"),
    [
        (None, {**BODY, "amount_minor": 100_001}, "At most ₱1,000.00 more can be refunded"),
        ("late", BODY, "This group order no longer accepts refund requests."),
        (
            "reasons",
            BODY,
            "This group order does not refund for “Item unavailable or out of stock”.",
        ),
        ("voided", BODY, "A voided payment cannot be refunded."),
    ],
)
def test_a_refusal_is_the_general_paths_and_the_attempt_leaves_nothing(
    change: str | None, body: dict[str, Any], detail: str
) -> None:
    buyer = UserFactory()
    order = GroupOrderFactory()
    payment = _paid(buyer, order, "pay-a")
    if change == "late":
        order.refunds_accepted_until = timezone.now() - timedelta(minutes=1)
        order.save(update_fields=["refunds_accepted_until"])
    elif change == "reasons":
        order.refund_reasons = ["changed_mind"]
        order.save(update_fields=["refund_reasons"])
    elif change == "voided":
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.VOIDED)

    response = _post(buyer, payment, "k-1", body)

    assert response.status_code == 400
    assert response.data["detail"].startswith(detail)
    # Tried (the lock statement ran), refused, rolled back; the general path answered.
    assert _took_the_plain_case(response)
    assert any(sql.startswith("ROLLBACK") for sql in response.statements)
    _nothing_written(payment)
    # The refusal is remembered for the key, as every answer is.
    assert IdempotencyRecord.objects.get(key="k-1").response_status == 400


def test_a_replay_a_changed_body_and_someone_elses_payment() -> None:
    buyer = UserFactory()
    payment = _paid(buyer, GroupOrderFactory(), "pay-a")

    first = _post(buyer, payment, "k-1")
    again = _post(buyer, payment, "k-1")
    changed = _post(buyer, payment, "k-1", {**BODY, "amount_minor": 1})
    stranger = _post(UserFactory(), payment, "k-1")

    assert (first.status_code, again.status_code, changed.status_code) == (201, 201, 422)
    assert again["Idempotent-Replayed"] == "true"
    assert again.data == first.data
    assert stranger.status_code == 404
    assert Refund.objects.filter(payment=payment).count() == 1
    assert Payment.objects.get(pk=payment.pk).refund_reserved_minor == 25_000


def test_a_key_still_running_is_409_and_nothing_is_written() -> None:
    buyer = UserFactory()
    payment = _paid(buyer, GroupOrderFactory(), "pay-a")
    with key_running_elsewhere(buyer.pk, "busy"):
        busy = _post(buyer, payment, "busy")
        assert (busy.status_code, busy.data["code"]) == (409, "idempotency")
        assert _took_the_plain_case(busy)
        _nothing_written(payment)
        assert not IdempotencyRecord.objects.exists()
    assert _post(buyer, payment, "busy").status_code == 201
