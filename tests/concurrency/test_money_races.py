"""The three races of the money core, each with 20 real threads on PostgreSQL, and a control.

Each control run turns the lock off (a module switch the product never touches) and widens the
read-to-write window, and must show the race is real: credit spent twice, refunds beyond the
payment, or a key's request run more than once. The locked runs must end with exact totals.
"""

import threading
import time

import psycopg
import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from payments.exceptions import PaymentRuleViolation
from payments.models import IdempotencyRecord, Payment, Refund, Submission, SubmissionStatus
from payments.money import idempotency, keyed_credit, keyed_refund
from payments.money import services as money
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import grant, other_session, record
from wallet import services as wallet_services
from wallet.exceptions import InsufficientCredit
from wallet.models import CreditGrant, Wallet, WalletEntry
from wallet.services import wallet_sum_check

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 20


@pytest.fixture
def race_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same widened gap in the locked run and the control: only the lock differs.
    monkeypatch.setattr(wallet_services, "RACE_WINDOW_SECONDS", 0.1)


def _credit_setup():  # type: ignore[no-untyped-def]
    order = GroupOrderFactory()
    buyer = UserFactory()
    submissions = [
        SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=10_000)
        for _ in range(THREADS)
    ]
    grant(buyer, order.owner, 60_000, key="g1")
    grant(buyer, order.owner, 40_000, key="g2")
    return buyer, submissions


def _apply_all(buyer, submissions):  # type: ignore[no-untyped-def]
    from tests.concurrency.helpers import run_at_once

    return run_at_once(
        [
            lambda s=s: money.wallet_apply_credit(
                actor=buyer, submission=s, amount_minor=10_000, idempotency_key=f"apply-{s.pk}"
            )
            for s in submissions
        ]
    )


def test_20_concurrent_credit_applies_never_overdraw(race_window) -> None:
    buyer, submissions = _credit_setup()

    results = _apply_all(buyer, submissions)

    paid = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, InsufficientCredit)]
    assert (len(paid), len(refused)) == (10, 10)
    assert Payment.objects.filter(source="wallet").aggregate(t=Sum("amount_minor"))["t"] == 100_000
    wallet = Wallet.objects.get()
    assert wallet.balance_minor == 0
    assert WalletEntry.objects.aggregate(t=Sum("amount_minor"))["t"] == 0
    assert WalletEntry.objects.filter(kind="use").count() == 10
    assert list(CreditGrant.objects.values_list("remaining_minor", flat=True)) == [0, 0]
    assert wallet_sum_check(Wallet.objects.all()) == []


def test_control_without_the_wallet_lock_spends_credit_twice(race_window, monkeypatch) -> None:
    monkeypatch.setattr(wallet_services, "LOCKING", False)
    buyer, submissions = _credit_setup()

    results = _apply_all(buyer, submissions)

    spent = Payment.objects.filter(source="wallet").aggregate(t=Sum("amount_minor"))["t"]
    assert sum(isinstance(r, Payment) for r in results) > 10
    assert spent > 100_000  # more credit spent than was ever granted
    assert wallet_sum_check(Wallet.objects.all()) != []


def _refund_setup():  # type: ignore[no-untyped-def]
    order = GroupOrderFactory()
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    payment = record([(submission, 100_000)], 100_000)
    return buyer, payment


def _refund_all(buyer, payment):  # type: ignore[no-untyped-def]
    from tests.concurrency.helpers import run_at_once

    return run_at_once(
        [
            lambda i=i: money.refund_request(
                actor=buyer,
                payment=payment,
                amount_minor=10_000,
                destination="wallet",
                reason="item_unavailable",
                idempotency_key=f"refund-{i}",
            )
            for i in range(THREADS)
        ]
    )


def test_20_concurrent_partial_refunds_never_exceed_the_payment(race_window) -> None:
    buyer, payment = _refund_setup()

    results = _refund_all(buyer, payment)

    assert sum(isinstance(r, Refund) for r in results) == 10
    assert sum(isinstance(r, PaymentRuleViolation) for r in results) == 10
    assert Refund.objects.aggregate(t=Sum("amount_minor"))["t"] == 100_000
    payment.refresh_from_db()
    assert payment.refund_reserved_minor == 100_000


def test_control_without_the_payment_lock_refunds_more_than_paid(race_window, monkeypatch) -> None:
    monkeypatch.setattr(money, "REFUND_LOCKING", False)
    buyer, payment = _refund_setup()

    _refund_all(buyer, payment)

    total = Refund.objects.aggregate(t=Sum("amount_minor"))["t"]
    assert total > 100_000  # refunds beyond the payment
    payment.refresh_from_db()
    assert payment.refund_reserved_minor < total  # and the payment's own sum lost updates


def _refund_all_through_the_api(buyer, payment):  # type: ignore[no-untyped-def]
    from tests.concurrency.helpers import run_at_once

    def call(index: int):  # type: ignore[no-untyped-def]
        client = APIClient()
        client.force_authenticate(buyer)
        return client.post(
            f"/api/payments/{payment.pk}/refunds",
            {"amount_minor": 10_000, "destination": "wallet", "reason": "item_unavailable"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"refund-{index}",
        )

    return run_at_once([lambda i=i: call(i) for i in range(THREADS)])


def _half_refundable_setup():  # type: ignore[no-untyped-def]
    # Half of what the payment paid may be refunded: a rule of the group order's policy that
    # only the lock keeps (the database holds the refunds within the payment on its own).
    order = GroupOrderFactory(refundable_percent=50)
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    return buyer, record([(submission, 100_000)], 100_000)


def test_20_concurrent_refund_requests_through_the_api_keep_the_policy(race_window) -> None:
    # The API answers the plain case in five statements (payments.money.keyed_refund): the
    # payment's row lock is taken in the first, the rules read after it.
    buyer, payment = _half_refundable_setup()

    responses = _refund_all_through_the_api(buyer, payment)

    assert sorted(r.status_code for r in responses) == [201] * 5 + [400] * 15
    assert Refund.objects.aggregate(t=Sum("amount_minor"))["t"] == 50_000
    payment.refresh_from_db()
    assert payment.refund_reserved_minor == 50_000
    assert IdempotencyRecord.objects.count() == THREADS  # every answer kept for its key


def test_control_without_the_plain_cases_lock_refunds_beyond_the_policy(
    race_window, monkeypatch
) -> None:
    monkeypatch.setattr(keyed_refund, "LOCKING", False)
    buyer, payment = _half_refundable_setup()

    responses = _refund_all_through_the_api(buyer, payment)

    total = Refund.objects.aggregate(t=Sum("amount_minor"))["t"]
    assert sum(r.status_code == 201 for r in responses) > 5
    assert total > 50_000  # more than the policy allows on the submission
    payment.refresh_from_db()
    assert payment.refund_reserved_minor == total <= 100_000  # the check constraint still held


def _partly_paid_setup():  # type: ignore[no-untyped-def]
    # Submissions paid in part already, so that a further part keeps their state: the plain
    # case of the apply-credit API (payments.money.keyed_credit).
    order = GroupOrderFactory()
    buyer = UserFactory()
    submissions = [
        SubmissionFactory(
            group_order=order,
            buyer=buyer,
            amount_due_minor=20_000,
            paid_minor=1_000,
            status=SubmissionStatus.PARTIALLY_PAID,
        )
        for _ in range(THREADS)
    ]
    grant(buyer, order.owner, 30_000, key="g1")
    grant(buyer, order.owner, 20_000, key="g2")
    return buyer, submissions


def _apply_all_through_the_api(buyer, submissions):  # type: ignore[no-untyped-def]
    from tests.concurrency.helpers import run_at_once

    def call(submission):  # type: ignore[no-untyped-def]
        client = APIClient()
        client.force_authenticate(buyer)
        return client.post(
            f"/api/submissions/{submission.pk}/apply-credit",
            {"amount_minor": 5_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"apply-{submission.pk}",
        )

    return run_at_once([lambda s=s: call(s) for s in submissions])


def test_20_concurrent_applies_through_the_api_never_overdraw(race_window) -> None:
    buyer, submissions = _partly_paid_setup()

    responses = _apply_all_through_the_api(buyer, submissions)

    assert sorted(r.status_code for r in responses) == [201] * 10 + [400] * 10
    wallet = Wallet.objects.get()
    assert wallet.balance_minor == 0
    assert wallet_sum_check([wallet]) == []
    assert Payment.objects.aggregate(t=Sum("amount_minor"))["t"] == 50_000
    assert WalletEntry.objects.filter(kind="use").aggregate(t=Sum("amount_minor"))["t"] == -50_000


def test_the_plain_apply_locks_submission_then_wallet_then_grants() -> None:
    # The general path's order. One statement takes all three locks; in another order it could
    # deadlock with a general-path apply on the same wallet.
    buyer, submissions = _partly_paid_setup()
    submission, wallet = submissions[0], Wallet.objects.get(buyer=buyer)
    lock = "SELECT id FROM {} WHERE {} = %s FOR UPDATE NOWAIT"
    responses: list[object] = []
    with other_session() as holder, other_session() as probe:
        holder.execute(lock.format(Wallet._meta.db_table, "id"), [wallet.pk])
        applying = threading.Thread(
            target=lambda: responses.extend(_apply_all_through_the_api(buyer, [submission]))
        )
        applying.start()
        try:
            _wait_for_a_lock_wait(probe, "EXECUTE payments_keyed_credit_read")
            # Waiting on the wallet, the read already holds the submission ...
            with pytest.raises(psycopg.errors.LockNotAvailable):
                probe.execute(lock.format(Submission._meta.db_table, "id"), [submission.pk])
            probe.rollback()
            # ... and not yet the grants.
            grants = probe.execute(
                lock.format(CreditGrant._meta.db_table, "wallet_id"), [wallet.pk]
            ).fetchall()
            assert len(grants) == 2
            probe.rollback()
        finally:
            holder.rollback()
            applying.join(timeout=30)

    assert [r.status_code for r in responses] == [201]
    assert Wallet.objects.get(pk=wallet.pk).balance_minor == 45_000


def _wait_for_a_lock_wait(probe: psycopg.Connection, query_start: str) -> None:
    for _ in range(200):
        waiting = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            [query_start + "%"],
        ).fetchone()
        probe.rollback()
        if waiting == (1,):
            return
        time.sleep(0.05)
    raise AssertionError(f"no session waited on a lock in {query_start!r}")


def test_control_without_the_plain_cases_locks_spends_credit_twice(
    race_window, monkeypatch
) -> None:
    monkeypatch.setattr(keyed_credit, "LOCKING", False)
    buyer, submissions = _partly_paid_setup()

    responses = _apply_all_through_the_api(buyer, submissions)

    # More paid from credit than there ever was: the same credit spent twice.
    assert sum(r.status_code == 201 for r in responses) > 10
    assert Payment.objects.aggregate(t=Sum("amount_minor"))["t"] > 50_000
    assert wallet_sum_check([Wallet.objects.get()]) != []


def _same_key_20_times(monkeypatch):  # type: ignore[no-untyped-def]
    from tests.concurrency.helpers import run_at_once

    order = GroupOrderFactory()
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    grant(buyer, order.owner, 100_000, key="g")
    executions = []
    real = money.wallet_apply_credit

    def counting(**kwargs):  # type: ignore[no-untyped-def]
        executions.append(1)
        return real(**kwargs)

    monkeypatch.setattr(money, "wallet_apply_credit", counting)

    def call():  # type: ignore[no-untyped-def]
        client = APIClient()
        client.force_authenticate(buyer)
        return client.post(
            f"/api/submissions/{submission.pk}/apply-credit",
            {"amount_minor": 10_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="one-key",
        )

    return run_at_once([call] * THREADS), executions


def test_same_idempotency_key_20_times_at_once_runs_once(race_window, monkeypatch) -> None:
    responses, executions = _same_key_20_times(monkeypatch)

    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}
    first = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(first) == 1
    replayed = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" in r]
    assert all(r.data == first[0].data for r in replayed)
    assert len(executions) == 1
    assert Payment.objects.count() == 1
    assert Wallet.objects.get().balance_minor == 90_000
    assert IdempotencyRecord.objects.get().response_status == 201


def test_control_without_the_key_reservation_runs_the_request_many_times(
    race_window, monkeypatch
) -> None:
    monkeypatch.setattr(idempotency, "ATOMIC_RESERVATION", False)

    responses, executions = _same_key_20_times(monkeypatch)

    # The race is real: many requests with one key reached the money service. Only the
    # payment's unique idempotency key in the database kept the money right.
    assert len(executions) > 1
    assert sum(r.status_code == 201 and "Idempotent-Replayed" not in r for r in responses) > 1
    assert Payment.objects.count() == 1
    assert Wallet.objects.get().balance_minor == 90_000
