"""The apply-credit API's plain case (payments.money.keyed_credit): six statements, same rows.

Each test asserts which path answered (by the statements sent) and that what it wrote or
refused is exactly what the general path (``idempotent`` + ``wallet_apply_credit``) does.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from payments import api
from payments.models import (
    IdempotencyRecord,
    Payment,
    PaymentAllocation,
    Refund,
    Submission,
    SubmissionStatus,
)
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import grant, key_running_elsewhere
from wallet.models import CreditGrant, Wallet, WalletEntry

pytestmark = pytest.mark.django_db


def _buyer_with_credit(order: Any, *, paid_minor: int = 1_000) -> tuple[Any, Submission]:
    """A buyer who has paid part of a submission (so a further part keeps its state) and holds
    two grants: 3,000 expiring soonest and 50,000."""
    buyer = UserFactory()
    submission = SubmissionFactory(
        group_order=order,
        buyer=buyer,
        amount_due_minor=100_000,
        paid_minor=paid_minor,
        status=SubmissionStatus.PARTIALLY_PAID if paid_minor else SubmissionStatus.PENDING_PAYMENT,
    )
    soon = timezone.now() + timedelta(days=3)
    grant(buyer, order.owner, 3_000, key=f"g1-{buyer.pk}", expires_at=soon)
    grant(buyer, order.owner, 50_000, key=f"g2-{buyer.pk}")
    return buyer, submission


def _apply(buyer: Any, submission: Submission, key: str, body: dict[str, Any] | None = None) -> Any:
    client = APIClient()
    client.force_authenticate(buyer)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/submissions/{submission.pk}/apply-credit",
            body if body is not None else {"amount_minor": 5_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    response.statements = [query["sql"] for query in queries.captured_queries]
    return response


def _took_the_plain_case(response: Any) -> bool:
    return any(sql.startswith("EXECUTE payments_keyed_credit_read") for sql in response.statements)


def _written(buyer: Any, submission: Submission) -> dict[str, Any]:
    """Everything an apply wrote for ``buyer``, with its own ids and keys written as names."""
    payment = Payment.objects.get(buyer=buyer, source=Payment.Source.WALLET)
    wallet = Wallet.objects.get(buyer=buyer)
    grants = list(CreditGrant.objects.filter(buyer=buyer).order_by("pk"))
    grant_names = {g.pk: f"G{i}" for i, g in enumerate(grants)}
    # Ids by the table they point into (tables number their rows independently).
    id_names = {
        "payment_id": {payment.pk: "P"},
        "submission_id": {submission.pk: "S"},
        "grant_id": grant_names,
    }
    texts = {payment.idempotency_key: "KEY", submission.code: "CODE"}

    def text(value: str) -> str:
        for raw, name in texts.items():
            value = value.replace(raw, name)
        return value.replace(f"payments.payment:{payment.pk}", "payments.payment:P")

    def fields(row: Any, *skip: str) -> dict[str, Any]:
        dropped = {"id", "history_id", "history_date", "created_at", "updated_at", "paid_at"}
        out = {}
        for f in row._meta.concrete_fields:
            if f.attname in dropped | set(skip):
                continue
            value = getattr(row, f.attname)
            if f.attname in id_names:
                value = id_names[f.attname].get(value, value)
            elif f.attname == "source_id" and value == str(payment.pk):
                value = "P"
            elif isinstance(value, str):
                value = text(value)
                head, _, tail = value.rpartition(":")
                if head and tail.isdigit() and int(tail) in grant_names:  # an entry's key
                    value = f"{head}:{grant_names[int(tail)]}"
            out[f.attname] = value
        return out

    def body(answer: dict[str, Any]) -> dict[str, Any]:
        return {
            "payment": {
                **answer["payment"],
                "id": answer["payment"]["id"] == payment.pk,
                "paid_at": answer["payment"]["paid_at"] == payment.paid_at.isoformat(),
            },
            "submission": {
                **answer["submission"],
                "id": answer["submission"]["id"] == submission.pk,
                "code": answer["submission"]["code"] == submission.code,
            },
        }

    def after(event: AuditEvent) -> dict[str, Any]:
        named = dict(event.after)
        if "grants" in named:
            named["grants"] = [grant_names[pk] for pk in named["grants"]]
        if "source" in named:
            named["source"] = text(named["source"])
        if "allocations" in named:
            named["allocations"] = {text(k): v for k, v in named["allocations"].items()}
        return named

    people = ("buyer_id", "recorded_by_id", "created_by_id", "history_user_id", "actor_id")
    events = AuditEvent.objects.filter(
        actor=buyer, action__in=["wallet.credit_used", "payment.recorded"]
    )
    answer = IdempotencyRecord.objects.get(user=buyer)
    return {
        "payment": fields(payment, *people, "group_order_id", "idempotency_key"),
        "payment_key": payment.idempotency_key.startswith(f"api:{buyer.pk}:"),
        "payment_history": [
            (
                h.history_type,
                h.history_user_id == buyer.pk,
                fields(h, *people, "group_order_id", "idempotency_key"),
            )
            for h in Payment.history.filter(id=payment.pk)
        ],
        "grants": [
            fields(g, *people, "wallet_id", "idempotency_key", "expires_at") for g in grants
        ],
        "grant_history": [
            (h.history_type, h.history_user_id == buyer.pk, h.remaining_minor, h.status)
            for g in grants
            for h in CreditGrant.history.filter(id=g.pk, history_type="~").order_by("history_id")
        ],
        "entries": [
            fields(e, *people, "wallet_id", "grant_id")
            for e in WalletEntry.objects.filter(wallet=wallet, kind=WalletEntry.Kind.USE).order_by(
                "pk"
            )
        ],
        "entry_authors": set(
            WalletEntry.objects.filter(wallet=wallet, kind=WalletEntry.Kind.USE).values_list(
                "created_by_id", flat=True
            )
        )
        == {buyer.pk},
        "wallet": wallet.balance_minor,
        "allocation": [
            (
                a.payment_id == payment.pk,
                a.submission_id == submission.pk,
                a.amount_minor,
                a.is_reversed,
            )
            for a in PaymentAllocation.objects.filter(payment=payment)
        ],
        "submission": fields(
            Submission.objects.get(pk=submission.pk),
            *people,
            "group_order_id",
            "code",
            "buyer_name",
        ),
        "submission_history": [
            (h.history_type, h.history_user_id == buyer.pk, h.paid_minor, h.status)
            for h in Submission.history.filter(id=submission.pk, history_type="~")
        ],
        "events": [
            (
                e.action,
                e.object_type_id,
                e.object_id in (str(payment.pk), str(wallet.pk)),
                e.object_repr.replace(f"#{payment.pk} ", "#P ").replace(f"#{wallet.pk} ", "#W "),
                e.before,
                after(e),
                e.ip_address,
                bool(e.request_id),
            )
            for e in events.order_by("pk")
        ],
        "answer": (answer.response_status, body(answer.response_body)),
    }


@pytest.mark.parametrize(
    "timing",
    [
        {},
        {"payment_timing": "installments", "installment_count": 3},
        {"payment_timing": "deposit", "deposit_percent": 30},
    ],
)
def test_the_plain_case_writes_what_the_general_path_writes(monkeypatch, timing) -> None:
    # The answer shows what is due next: the group order's timing, read by the plain case.
    order = GroupOrderFactory(**timing)
    first, first_submission = _buyer_with_credit(order)
    second, second_submission = _buyer_with_credit(order)
    for model in (Wallet, Payment):
        ContentType.objects.get_for_model(model)  # cached for the process after a first use

    plain = _apply(first, first_submission, "k-1")
    monkeypatch.setattr(api, "apply_credit_keyed", lambda *args: None)
    other = _apply(second, second_submission, "k-1")

    assert (plain.status_code, other.status_code) == (201, 201)
    work = [sql.split("(")[0] for sql in plain.statements if "SAVEPOINT" not in sql]
    assert work == ["EXECUTE payments_keyed_credit_read", "EXECUTE payments_keyed_credit_write"]
    assert len(plain.statements) == 4  # with the savepoint and its release
    assert not _took_the_plain_case(other)
    assert len(other.statements) > 20
    written = _written(first, first_submission)
    assert written == _written(second, second_submission)
    # And what that is: 3,000 from the grant expiring first, 2,000 from the next.
    assert [g["remaining_minor"] for g in written["grants"]] == [0, 48_000]
    assert [e["amount_minor"] for e in written["entries"]] == [-3_000, -2_000]
    assert [e["balance_after_minor"] for e in written["entries"]] == [50_000, 48_000]
    assert written["wallet"] == 48_000
    assert written["submission"]["paid_minor"] == 6_000
    assert written["submission"]["status"] == SubmissionStatus.PARTIALLY_PAID
    assert [event[0] for event in written["events"]] == ["wallet.credit_used", "payment.recorded"]
    assert plain.data["payment"]["amount"] == "₱50.00"
    assert plain.data["submission"]["outstanding_minor"] == 94_000


def _nothing_written(buyer: Any, submission: Submission, *, paid_minor: int = 1_000) -> None:
    assert not Payment.objects.filter(buyer=buyer).exists()
    assert Wallet.objects.get(buyer=buyer).balance_minor == 53_000
    assert not WalletEntry.objects.filter(kind=WalletEntry.Kind.USE).exists()
    assert Submission.objects.get(pk=submission.pk).paid_minor == paid_minor
    assert not AuditEvent.objects.filter(action="payment.recorded").exists()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"amount_minor": 99_001}, "has only ₱990.00 left to pay."),
        ({"amount_minor": 60_000}, "Only 53000 of the 60000 asked for is available as credit."),
    ],
)
def test_a_refusal_is_the_general_paths_and_the_attempt_leaves_nothing(
    body: dict[str, Any], detail: str
) -> None:
    buyer, submission = _buyer_with_credit(GroupOrderFactory())

    response = _apply(buyer, submission, "k-1", body)

    assert response.status_code == 400
    assert response.data["detail"].endswith(detail)
    assert _took_the_plain_case(response)
    assert any(sql.startswith("ROLLBACK") for sql in response.statements)
    _nothing_written(buyer, submission)
    assert IdempotencyRecord.objects.get(key="k-1").response_status == 400


def test_a_change_of_state_is_the_general_paths() -> None:
    # The first payment moves a submission to partially paid: a transition, with its own
    # history, audit and e-mail, which the general path writes.
    buyer, submission = _buyer_with_credit(GroupOrderFactory(), paid_minor=0)

    response = _apply(buyer, submission, "k-1")

    assert response.status_code == 201
    assert _took_the_plain_case(response)
    assert any(sql.startswith("ROLLBACK") for sql in response.statements)
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.PARTIALLY_PAID
    assert Payment.objects.filter(buyer=buyer).count() == 1
    assert AuditEvent.objects.filter(action="submission.state_changed").count() == 1


def test_a_replay_a_changed_body_someone_else_and_a_running_key() -> None:
    buyer, submission = _buyer_with_credit(GroupOrderFactory())

    first = _apply(buyer, submission, "k-1")
    again = _apply(buyer, submission, "k-1")
    changed = _apply(buyer, submission, "k-1", {"amount_minor": 1})
    stranger = _apply(UserFactory(), submission, "k-1")
    with key_running_elsewhere(buyer.pk, "busy"):
        busy = _apply(buyer, submission, "busy")
        assert _took_the_plain_case(busy)

    assert (first.status_code, again.status_code, changed.status_code) == (201, 201, 422)
    assert again["Idempotent-Replayed"] == "true"
    assert again.data == first.data
    assert (stranger.status_code, busy.status_code) == (404, 409)
    assert Payment.objects.filter(buyer=buyer).count() == 1
    assert Wallet.objects.get(buyer=buyer).balance_minor == 48_000
    assert not Refund.objects.exists()
