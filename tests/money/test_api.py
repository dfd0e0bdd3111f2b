"""The money API: who may call what (404 for anything not theirs) and Idempotency-Key rules."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from payments.models import IdempotencyRecord, Payment, Refund
from payments.money.idempotency import idempotency_purge
from tests.factories import SubmissionFactory, UserFactory
from tests.money.helpers import grant, key_running_elsewhere, record
from wallet.models import Wallet

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _apply(client, submission, body=None, key=None):  # type: ignore[no-untyped-def]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"/api/submissions/{submission.pk}/apply-credit", body or {}, format="json", **headers
    )


def test_buyer_applies_credit_to_own_submission(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    response = _apply(_client(personas.buyer), personas.submission, {"amount_minor": 25_000}, "k1")
    assert response.status_code == 201
    assert response.data["payment"]["amount_minor"] == 25_000
    assert response.data["payment"]["source"] == "wallet"
    assert response.data["submission"]["status"] == "partially_paid"
    assert response.data["submission"]["outstanding_minor"] == 100_000
    assert response.data["submission"]["next_due"]["outstanding_minor"] == 100_000
    assert Wallet.objects.get().balance_minor == 15_000


@pytest.mark.parametrize("who", ["other_buyer", "owner", "anonymous"])
def test_apply_credit_on_someone_elses_submission_is_404(personas, who) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    user = {"other_buyer": UserFactory(), "owner": personas.owner, "anonymous": None}[who]
    response = _apply(_client(user), personas.submission, {}, "k1")
    assert response.status_code == (403 if who == "anonymous" else 404)
    assert Payment.objects.count() == 0
    assert Wallet.objects.get().balance_minor == 40_000


def test_refused_apply_says_why_and_changes_nothing(personas) -> None:
    response = _apply(_client(personas.buyer), personas.submission, {}, "k1")
    assert (response.status_code, response.data["detail"]) == (
        400,
        "There is no store credit to use.",
    )
    assert Payment.objects.count() == 0


def test_same_key_same_body_replays_the_first_response(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    client = _client(personas.buyer)
    first = _apply(client, personas.submission, {"amount_minor": 10_000}, "same")
    second = _apply(client, personas.submission, {"amount_minor": 10_000}, "same")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.data == first.data
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert Wallet.objects.get().balance_minor == 30_000


def test_same_key_different_body_is_422(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    client = _client(personas.buyer)
    _apply(client, personas.submission, {"amount_minor": 10_000}, "same")
    response = _apply(client, personas.submission, {"amount_minor": 20_000}, "same")
    assert response.status_code == 422
    assert "different request" in response.data["detail"]
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_key_still_running_is_409_and_free_again_afterwards(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    client = _client(personas.buyer)
    # Another request with this key is "running": its session holds the key's advisory lock.
    with key_running_elsewhere(personas.buyer.pk, "busy"):
        busy = _apply(client, personas.submission, {}, "busy")
        assert (busy.status_code, busy.data["code"]) == (409, "idempotency")
        assert Payment.objects.count() == 0
    # The other request ended (its transaction with it): the key is free.
    assert _apply(client, personas.submission, {}, "busy").status_code == 201
    assert Payment.objects.count() == 1


def test_a_request_that_crashed_leaves_its_key_free(personas, monkeypatch) -> None:
    from payments.money import services as money

    grant(personas.buyer, personas.owner, 40_000, key="g")
    client = _client(personas.buyer)
    real = money.wallet_apply_credit

    def crash(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("worker killed")

    monkeypatch.setattr(money, "wallet_apply_credit", crash)
    with pytest.raises(RuntimeError):
        _apply(client, personas.submission, {}, "crashy")
    assert IdempotencyRecord.objects.count() == 0
    monkeypatch.setattr(money, "wallet_apply_credit", real)
    assert _apply(client, personas.submission, {}, "crashy").status_code == 201
    assert Payment.objects.count() == 1


def test_keys_are_scoped_per_user(personas) -> None:
    other = UserFactory()
    theirs = SubmissionFactory(group_order=personas.order, buyer=other)
    grant(personas.buyer, personas.owner, 40_000, key="g1")
    grant(other, personas.owner, 40_000, key="g2")
    first = _apply(_client(personas.buyer), personas.submission, {}, "shared-key")
    second = _apply(_client(other), theirs, {}, "shared-key")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.data["payment"]["id"] != second.data["payment"]["id"]
    assert Payment.objects.count() == 2


def test_keys_are_kept_at_least_24_hours(personas, settings) -> None:
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1  # never below 24 hours, whatever is configured
    grant(personas.buyer, personas.owner, 40_000, key="g")
    _apply(_client(personas.buyer), personas.submission, {"amount_minor": 100}, "old")
    now = timezone.now()
    assert idempotency_purge(now=now + timedelta(hours=23, minutes=59)) == 0
    replay = _apply(_client(personas.buyer), personas.submission, {"amount_minor": 100}, "old")
    assert replay["Idempotent-Replayed"] == "true"
    assert idempotency_purge(now=now + timedelta(hours=24, minutes=1)) == 1
    assert IdempotencyRecord.objects.count() == 0


def test_bad_key_is_400(personas) -> None:
    response = _apply(_client(personas.buyer), personas.submission, {}, "x" * 201)
    assert response.status_code == 400
    assert IdempotencyRecord.objects.count() == 0


def test_invalid_input_leaves_the_key_unused(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    client = _client(personas.buyer)
    first = _apply(client, personas.submission, {"amount_minor": -5}, "v")
    assert first.status_code == 400
    assert "amount_minor" in first.data
    # Nothing happened, so nothing is remembered: the key still serves a valid request.
    assert IdempotencyRecord.objects.count() == 0
    second = _apply(client, personas.submission, {"amount_minor": 500}, "v")
    assert second.status_code == 201
    assert Payment.objects.count() == 1


def test_a_refusal_is_remembered_and_replayed(personas) -> None:
    client = _client(personas.buyer)
    first = _apply(client, personas.submission, {}, "no-credit")
    grant(personas.buyer, personas.owner, 40_000, key="g")
    second = _apply(client, personas.submission, {}, "no-credit")
    assert (first.status_code, second.status_code) == (400, 400)
    assert second.data == first.data
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 0


def _paid_payment(personas):  # type: ignore[no-untyped-def]
    return record([(personas.submission, 125_000)], 125_000)


def test_buyer_requests_a_refund_on_own_payment(personas) -> None:
    payment = _paid_payment(personas)
    response = _client(personas.buyer).post(
        f"/api/payments/{payment.pk}/refunds",
        {"amount_minor": 25_000, "destination": "wallet", "reason": "item_unavailable"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ref-1",
    )
    assert response.status_code == 201
    assert (response.data["status"], response.data["amount"]) == ("requested", "₱250.00")
    assert Refund.objects.get().requested_by == personas.buyer


@pytest.mark.parametrize("who", ["other_buyer", "owner", "finance"])
def test_refund_on_someone_elses_payment_is_404(personas, who) -> None:
    payment = _paid_payment(personas)
    user = {"other_buyer": UserFactory(), "owner": personas.owner, "finance": personas.finance}[who]
    response = _client(user).post(
        f"/api/payments/{payment.pk}/refunds",
        {"amount_minor": 25_000, "destination": "wallet", "reason": "item_unavailable"},
        format="json",
    )
    assert response.status_code == 404
    assert Refund.objects.count() == 0


def test_refund_over_the_policy_is_400_with_the_reason(personas) -> None:
    payment = _paid_payment(personas)
    response = _client(personas.buyer).post(
        f"/api/payments/{payment.pk}/refunds",
        {"amount_minor": 125_001, "destination": "wallet", "reason": "item_unavailable"},
        format="json",
    )
    assert (response.status_code, response.data["detail"]) == (
        400,
        f"At most ₱1,250.00 more can be refunded on submission {personas.submission.code} "
        "from this payment.",
    )
    assert Refund.objects.count() == 0


def test_wallet_lists_balances_grants_and_entries(personas) -> None:
    grant(personas.buyer, personas.owner, 40_000, key="g")
    grant(UserFactory(), personas.owner, 99_000, key="not-mine")
    response = _client(personas.buyer).get("/api/wallet")
    assert response.status_code == 200
    (wallet,) = response.data["wallets"]
    assert (wallet["balance_minor"], wallet["balance"], wallet["currency"]) == (
        40_000,
        "₱400.00",
        "PHP",
    )
    assert [g["remaining_minor"] for g in wallet["grants"]] == [40_000]
    assert [(e["kind"], e["amount_minor"]) for e in wallet["entries"]] == [("grant", 40_000)]
    assert _client(None).get("/api/wallet").status_code == 403


def _manual(client, submission, amount=125_000, key="m1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/payments",
        {
            "currency": "PHP",
            "amount_minor": amount,
            "method_type": "cash",
            "reference": "OR-0001",
            "paid_at": "2026-11-20T10:00:00+08:00",
            "allocations": [{"submission_id": submission.pk, "amount_minor": 125_000}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_owner_records_a_manual_payment_with_overpayment(personas) -> None:
    response = _manual(_client(personas.owner), personas.submission, amount=130_000)
    assert response.status_code == 201
    assert (response.data["allocated_minor"], response.data["credited_minor"]) == (125_000, 5_000)
    payment = Payment.objects.get()
    assert (payment.source, payment.recorded_by, payment.reference) == (
        "manual",
        personas.owner,
        "OR-0001",
    )
    personas.submission.refresh_from_db()
    assert personas.submission.status == "verified"


@pytest.mark.parametrize("who", ["assistant", "other_gom", "buyer", "finance"])
def test_manual_payment_outside_your_orders_is_404(personas, who) -> None:
    response = _manual(_client(getattr(personas, who)), personas.submission)
    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_manual_payment_over_the_limit_is_400(personas) -> None:
    response = _manual(_client(personas.owner), personas.submission, amount=10_000_001)
    assert response.status_code == 400
    assert response.data["detail"] == "One payment can be at most ₱100,000.00."
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "status_code"),
    [("buyer", 200), ("owner", 200), ("assistant", 200), ("other_gom", 404), ("stranger", 404)],
)
def test_schedule_for_the_buyer_and_the_order_staff_only(personas, who, status_code) -> None:
    record([(personas.submission, 25_000)], 25_000)
    user = UserFactory() if who == "stranger" else getattr(personas, who)
    response = _client(user).get(f"/api/submissions/{personas.submission.pk}/schedule")
    assert response.status_code == status_code
    if status_code == 200:
        assert [(p["amount_minor"], p["paid_minor"]) for p in response.data["parts"]] == [
            (125_000, 25_000)
        ]
        assert response.data["next_due"]["outstanding_minor"] == 100_000


def test_demo_hook_records_through_the_services(personas) -> None:
    from payments.demo import record_demo_payment

    payment = record_demo_payment(
        gom=personas.owner, submission=personas.submission, amount_minor=130_000
    )
    again = record_demo_payment(
        gom=personas.owner, submission=personas.submission, amount_minor=130_000
    )
    assert again.pk == payment.pk
    assert (payment.allocated_minor, payment.credited_minor) == (125_000, 5_000)
    assert Wallet.objects.get().balance_minor == 5_000
