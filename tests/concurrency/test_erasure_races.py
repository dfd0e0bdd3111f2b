"""An erasure while a refund of the same buyer is approved, in real threads on PostgreSQL.

The refund's approval locks refund → payment → submission. The erasure locks the buyer's refunds
before their submissions, so one waits for the other and both finish. The control turns that order
around (a module switch the product never touches) and holds both first locks at a barrier:
PostgreSQL then finds a deadlock and aborts one of the two.
"""

import contextlib
import threading
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import Sum

from accounts import erasure
from accounts.erasure import ERASED_TEXT, erase_buyer, erased_email
from accounts.models import User
from payments.models import Payment, Refund, Submission
from payments.money import services as money
from tests.concurrency.helpers import run_at_once
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import record
from wallet.models import CreditGrant, WalletEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _setup() -> tuple[User, Refund, Any]:
    order = GroupOrderFactory()
    buyer = UserFactory(full_name="Maria Clara Santos")
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    payment = record([(submission, 100_000)], 100_000, key="race-pay", method_type="cash")
    refund = money.refund_request(
        actor=buyer,
        payment=payment,
        amount_minor=40_000,
        destination=Refund.Destination.WALLET,
        reason="item_unavailable",
        idempotency_key="race-refund",
        submission=submission,
        details="Maria here, sorry",
    )
    return buyer, refund, order.owner


def _hold_first_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each side waits at the barrier holding its first lock: the refund its refund row, the
    # erasure the buyer's submissions. Whoever is blocked before its barrier lets the other go
    # on after two seconds.
    barrier = threading.Barrier(2)

    def wait() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)

    original = money._lock_refund_chain

    def lock_refund_chain(refund: Refund) -> Any:
        Refund.objects.select_for_update().get(pk=refund.pk)
        wait()
        return original(refund)

    monkeypatch.setattr(money, "_lock_refund_chain", lock_refund_chain)
    monkeypatch.setattr(erasure, "race_window", wait)


def _race(buyer: User, refund: Refund, owner: Any) -> list[Any]:
    return run_at_once(
        [
            lambda: money.refund_approve(actor=owner, refund=refund),
            lambda: erase_buyer(buyer, reason="ticket 77", actor=None),
        ]
    )


def test_erasure_and_refund_approval_both_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    buyer, refund, owner = _setup()
    _hold_first_locks(monkeypatch)
    approved, erased = _race(buyer, refund, owner)
    assert isinstance(approved, Refund), approved
    assert erased.refunds == 1, erased
    refund.refresh_from_db()
    assert (refund.status, refund.details, refund.amount_minor) == ("paid", ERASED_TEXT, 40_000)
    submission = Submission.objects.get()
    assert (submission.paid_minor, submission.refunded_minor) == (100_000, 40_000)
    assert submission.buyer_name == "Erased buyer"
    assert Payment.objects.get().refund_reserved_minor == 40_000
    assert CreditGrant.objects.aggregate(total=Sum("remaining_minor"))["total"] == 40_000
    assert WalletEntry.objects.aggregate(total=Sum("amount_minor"))["total"] == 40_000
    assert User.objects.get(pk=buyer.pk).email == erased_email(buyer.pk)


def test_control_without_the_lock_order_deadlocks(monkeypatch: pytest.MonkeyPatch) -> None:
    buyer, refund, owner = _setup()
    monkeypatch.setattr(erasure, "LOCK_REFUNDS_FIRST", False)
    _hold_first_locks(monkeypatch)
    results = _race(buyer, refund, owner)
    failures = [result for result in results if isinstance(result, OperationalError)]
    assert len(failures) == 1, results
    assert "deadlock detected" in str(failures[0])
