"""Wallet services: grant, apply to a submission, expiry, reversal, with exact ledgers."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from payments.exceptions import PaymentRuleViolation
from payments.models import Payment, PaymentAllocation
from payments.money import services as money
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from tests.money.helpers import grant
from wallet.exceptions import IdempotencyConflict, InsufficientCredit, WalletRuleViolation
from wallet.models import CreditGrant, Wallet, WalletEntry
from wallet.services import wallet_expire_credits, wallet_reverse, wallet_sum_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    order = GroupOrderFactory()
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    return order, order.owner, buyer, submission


def _ledger() -> list[tuple[str, int, int]]:
    return list(
        WalletEntry.objects.order_by("id").values_list(
            "kind", "amount_minor", "balance_after_minor"
        )
    )


def test_grant_writes_grant_entry_balance_and_audit(setup) -> None:
    _order, gom, buyer, _submission = setup
    created = grant(buyer, gom, 25_000, key="g1")
    wallet = Wallet.objects.get()
    assert (wallet.buyer, wallet.issuer, wallet.currency, wallet.balance_minor) == (
        buyer,
        gom,
        "PHP",
        25_000,
    )
    assert (created.amount_minor, created.remaining_minor, created.status, created.granted_by) == (
        25_000,
        25_000,
        "active",
        gom,
    )
    assert _ledger() == [("grant", 25_000, 25_000)]
    event = AuditEvent.objects.get()
    assert (event.action, event.after["description"], event.after["balance_minor"]) == (
        "wallet.credit_granted",
        "Sorry for the delay",
        25_000,
    )
    assert grant(buyer, gom, 25_000, key="g1").pk == created.pk
    with pytest.raises(IdempotencyConflict):
        grant(buyer, gom, 30_000, key="g1")
    assert (CreditGrant.objects.count(), WalletEntry.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    ("amount", "description", "message"),
    [(0, "x", "positive"), (-1, "x", "positive"), (100, " ", "Say why")],
)
def test_bad_grants_are_refused(setup, amount, description, message) -> None:
    _order, gom, buyer, _submission = setup
    from wallet.services import wallet_grant_credit

    with pytest.raises(WalletRuleViolation, match=message):
        wallet_grant_credit(
            actor=gom,
            buyer=buyer,
            issuer=gom,
            currency="PHP",
            amount_minor=amount,
            kind="goodwill",
            description=description,
            idempotency_key="k",
        )
    assert (CreditGrant.objects.count(), WalletEntry.objects.count()) == (0, 0)


def test_apply_consumes_soonest_expiring_first_and_pays(setup) -> None:
    _order, gom, buyer, submission = setup
    now = timezone.now()
    later = grant(buyer, gom, 30_000, key="later", expires_at=now + timedelta(days=30))
    never = grant(buyer, gom, 50_000, key="never")
    soon = grant(buyer, gom, 40_000, key="soon", expires_at=now + timedelta(days=2))

    payment = money.wallet_apply_credit(
        actor=buyer, submission=submission, amount_minor=60_000, idempotency_key="apply-1"
    )

    assert (payment.source, payment.amount_minor, payment.fee_minor) == ("wallet", 60_000, 0)
    assert list(PaymentAllocation.objects.values_list("submission_id", "amount_minor")) == [
        (submission.pk, 60_000)
    ]
    for row in (soon, later, never):
        row.refresh_from_db()
    assert (soon.remaining_minor, soon.status, soon.is_fully_used) == (0, "fully_used", True)
    assert (later.remaining_minor, never.remaining_minor) == (10_000, 50_000)
    assert _ledger()[-2:] == [("use", -40_000, 80_000), ("use", -20_000, 60_000)]
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("partially_paid", 60_000)
    assert wallet_sum_check(Wallet.objects.all()) == []
    # Replay with the same key returns the same payment, spends nothing more.
    again = money.wallet_apply_credit(
        actor=buyer, submission=submission, amount_minor=60_000, idempotency_key="apply-1"
    )
    assert again.pk == payment.pk
    assert Wallet.objects.get().balance_minor == 60_000


def test_apply_without_amount_pays_what_credit_covers(setup) -> None:
    _order, gom, buyer, submission = setup
    grant(buyer, gom, 30_000, key="g")
    payment = money.wallet_apply_credit(actor=buyer, submission=submission, idempotency_key="a")
    assert payment.amount_minor == 30_000
    grant(buyer, gom, 90_000, key="g2")
    second = money.wallet_apply_credit(actor=buyer, submission=submission, idempotency_key="b")
    assert second.amount_minor == 70_000
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("verified", 100_000)
    assert Wallet.objects.get().balance_minor == 20_000


def test_apply_more_than_the_credit_is_refused_and_nothing_changes(setup) -> None:
    _order, gom, buyer, submission = setup
    grant(buyer, gom, 30_000, key="g")
    with pytest.raises(InsufficientCredit, match="Only 30000 of the 30001"):
        money.wallet_apply_credit(
            actor=buyer, submission=submission, amount_minor=30_001, idempotency_key="a"
        )
    assert (Payment.objects.count(), WalletEntry.objects.count()) == (0, 1)
    assert Wallet.objects.get().balance_minor == 30_000
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("pending_payment", 0)


def test_apply_more_than_due_is_refused(setup) -> None:
    _order, gom, buyer, submission = setup
    grant(buyer, gom, 200_000, key="g")
    with pytest.raises(PaymentRuleViolation, match=r"only ₱1,000\.00 left"):
        money.wallet_apply_credit(
            actor=buyer, submission=submission, amount_minor=100_001, idempotency_key="a"
        )
    assert Payment.objects.count() == 0


def test_credit_with_another_gom_cannot_pay_this_order(setup) -> None:
    _order, _gom, buyer, submission = setup
    grant(buyer, StaffFactory(), 50_000, key="elsewhere")
    with pytest.raises(InsufficientCredit, match="no store credit"):
        money.wallet_apply_credit(actor=buyer, submission=submission, idempotency_key="a")
    assert Payment.objects.count() == 0


def test_expiry_task_expires_only_what_is_due_and_is_repeatable(setup) -> None:
    _order, gom, buyer, _submission = setup
    now = timezone.now()
    due = grant(buyer, gom, 10_000, key="due", expires_at=now + timedelta(hours=1))
    grant(buyer, gom, 20_000, key="kept", expires_at=now + timedelta(days=10))
    with time_machine.travel(now + timedelta(hours=2), tick=False):
        assert wallet_expire_credits() == 1
        assert wallet_expire_credits() == 0
    due.refresh_from_db()
    assert (due.status, due.remaining_minor) == ("expired", 0)
    assert _ledger() == [
        ("grant", 10_000, 10_000),
        ("grant", 20_000, 30_000),
        ("expiry", -10_000, 20_000),
    ]
    assert Wallet.objects.get().balance_minor == 20_000
    assert AuditEvent.objects.filter(action="wallet.credit_expired").count() == 1


def test_expired_credit_is_never_spent_even_before_the_task_runs(setup) -> None:
    _order, gom, buyer, submission = setup
    now = timezone.now()
    grant(buyer, gom, 10_000, key="due", expires_at=now + timedelta(hours=1))
    with (
        time_machine.travel(now + timedelta(hours=2), tick=False),
        pytest.raises(InsufficientCredit),
    ):
        money.wallet_apply_credit(actor=buyer, submission=submission, idempotency_key="a")
    # The apply rolled back as a whole; the daily task then expires the grant.
    assert Wallet.objects.get().balance_minor == 10_000
    with time_machine.travel(now + timedelta(hours=2), tick=False):
        assert wallet_expire_credits() == 1
    assert Wallet.objects.get().balance_minor == 0


def test_reverse_a_grant_takes_back_what_is_left(setup) -> None:
    _order, gom, buyer, submission = setup
    grant(buyer, gom, 50_000, key="g")
    money.wallet_apply_credit(
        actor=buyer, submission=submission, amount_minor=20_000, idempotency_key="a"
    )
    entries = wallet_reverse(
        actor=gom, operation_key="g", reason="Granted twice", idempotency_key="r"
    )
    assert [(e.kind, e.amount_minor) for e in entries] == [("reversal", -30_000)]
    assert Wallet.objects.get().balance_minor == 0
    assert CreditGrant.objects.get().status == "reversed"
    with pytest.raises(WalletRuleViolation, match="already reversed"):
        wallet_reverse(actor=gom, operation_key="g", reason="again", idempotency_key="r2")
    assert wallet_reverse(actor=gom, operation_key="g", reason="x", idempotency_key="r") == entries
    assert wallet_sum_check(Wallet.objects.all()) == []


def test_voiding_a_credit_payment_puts_the_credit_back(setup) -> None:
    _order, gom, buyer, submission = setup
    grant(buyer, gom, 50_000, key="g")
    payment = money.wallet_apply_credit(
        actor=buyer, submission=submission, amount_minor=50_000, idempotency_key="a"
    )
    money.payment_void(actor=gom, payment=payment, reason="Applied to the wrong order")
    assert Wallet.objects.get().balance_minor == 50_000
    assert CreditGrant.objects.get().status == "active"
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("pending_payment", 0)
    assert [kind for kind, *_ in _ledger()] == ["grant", "use", "reversal"]


def test_credit_put_back_on_an_expired_grant_expires_again(setup) -> None:
    _order, gom, buyer, submission = setup
    now = timezone.now()
    grant(buyer, gom, 50_000, key="g", expires_at=now + timedelta(days=1))
    payment = money.wallet_apply_credit(
        actor=buyer, submission=submission, amount_minor=20_000, idempotency_key="a"
    )
    with time_machine.travel(now + timedelta(days=2), tick=False):
        wallet_expire_credits()
        money.payment_void(actor=gom, payment=payment, reason="wrong order")
    assert _ledger() == [
        ("grant", 50_000, 50_000),
        ("use", -20_000, 30_000),
        ("expiry", -30_000, 0),
        ("reversal", 20_000, 20_000),
        ("expiry", -20_000, 0),
    ]
    assert wallet_sum_check(Wallet.objects.all()) == []


def test_database_constraints_hold_the_wallet_invariants(setup) -> None:
    _order, gom, buyer, _submission = setup
    created = grant(buyer, gom, 10_000, key="g")
    for update in (
        {"remaining_minor": -1},
        {"remaining_minor": 10_001},
        {"status": "expired"},
        {"is_fully_used": True},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditGrant.objects.filter(pk=created.pk).update(**update)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.update(balance_minor=-1)
    entry = WalletEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletEntry.objects.create(
            wallet=entry.wallet,
            grant=created,
            kind="use",
            amount_minor=5,
            currency="PHP",
            balance_after_minor=0,
            operation_key="bad",
            idempotency_key="bad",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletEntry.objects.create(
            wallet=entry.wallet,
            grant=created,
            kind="use",
            amount_minor=-5,
            currency="PHP",
            balance_after_minor=0,
            operation_key="dup",
            idempotency_key=entry.idempotency_key,
        )


def test_the_daily_tasks_expire_credit_and_purge_old_keys(setup) -> None:
    from payments.tasks import purge_idempotency_keys
    from wallet.tasks import expire_credits

    _order, gom, buyer, _submission = setup
    now = timezone.now()
    grant(buyer, gom, 10_000, key="due", expires_at=now + timedelta(hours=1))
    with time_machine.travel(now + timedelta(days=1), tick=False):
        assert expire_credits.delay().get() == 1
        assert purge_idempotency_keys.delay().get() == 0
    assert Wallet.objects.get().balance_minor == 0
