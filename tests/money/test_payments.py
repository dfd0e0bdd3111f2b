"""Recording payments: allocation, overpayment to credit, underpayment, fees, limits, deletion."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from audit.models import AuditEvent
from payments.exceptions import InvalidTransition, PaymentRuleViolation
from payments.models import FeeRule, Payment, PaymentAllocation, Submission
from payments.money import services as money
from payments.money.fees import fee_describe
from payments.money.services import IdempotencyConflict
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from tests.money.helpers import PAID_AT, actions, record
from wallet.models import CreditGrant, Wallet, WalletEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():  # type: ignore[no-untyped-def]
    return GroupOrderFactory()


@pytest.fixture
def buyer():  # type: ignore[no-untyped-def]
    return UserFactory()


def _submission(order, buyer, amount: int, **extra):  # type: ignore[no-untyped-def]
    return SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=amount, **extra)


def test_one_payment_split_over_three_submissions_settles_each(order, buyer) -> None:
    a = _submission(order, buyer, 100_000)
    b = _submission(order, buyer, 50_000)
    c = _submission(order, buyer, 80_000)

    payment = record([(a, 100_000), (b, 50_000), (c, 30_000)], 180_000)

    rows = {s.pk: s for s in Submission.objects.filter(pk__in=[a.pk, b.pk, c.pk])}
    assert [(rows[s.pk].status, rows[s.pk].paid_minor) for s in (a, b, c)] == [
        ("verified", 100_000),
        ("verified", 50_000),
        ("partially_paid", 30_000),
    ]
    assert (payment.amount_minor, payment.allocated_minor, payment.credited_minor) == (
        180_000,
        180_000,
        0,
    )
    assert list(
        PaymentAllocation.objects.order_by("submission_id").values_list(
            "submission_id", "amount_minor"
        )
    ) == [(a.pk, 100_000), (b.pk, 50_000), (c.pk, 30_000)]
    # GCash 3.5% + PHP 10 of PHP 1,800.00 = 63.00 + 10.00.
    assert payment.fee_minor == 7_300
    assert actions() == ["submission.state_changed"] * 3 + ["payment.recorded"]
    event = AuditEvent.objects.get(action="payment.recorded")
    assert event.after["allocations"] == {a.code: 100_000, b.code: 50_000, c.code: 30_000}
    assert CreditGrant.objects.count() == 0


def test_overpayment_becomes_wallet_credit_with_the_gom(order, buyer) -> None:
    submission = _submission(order, buyer, 125_000)

    payment = record([(submission, 125_000)], 130_000)

    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("verified", 125_000)
    assert (payment.allocated_minor, payment.credited_minor) == (125_000, 5_000)
    grant = CreditGrant.objects.get()
    assert (grant.kind, grant.amount_minor, grant.remaining_minor, grant.buyer) == (
        "overpayment",
        5_000,
        5_000,
        buyer,
    )
    assert (grant.source_type, grant.source_id) == ("payments.payment", str(payment.pk))
    wallet = Wallet.objects.get()
    assert (wallet.buyer, wallet.issuer, wallet.balance_minor) == (buyer, order.owner, 5_000)
    assert list(WalletEntry.objects.values_list("kind", "amount_minor", "balance_after_minor")) == [
        ("grant", 5_000, 5_000)
    ]
    assert actions() == [
        "submission.state_changed",
        "wallet.credit_granted",
        "payment.recorded",
    ]


def test_underpayment_leaves_partially_paid_and_a_second_payment_completes(order, buyer) -> None:
    submission = _submission(order, buyer, 125_000)

    record([(submission, 50_000)], 50_000, key="first")
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor, submission.outstanding_minor) == (
        "partially_paid",
        50_000,
        75_000,
    )
    record([(submission, 75_000)], 75_000, key="second")
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor, submission.version) == (
        "verified",
        125_000,
        3,
    )


def test_without_allocations_money_fills_open_submissions_oldest_first(order, buyer) -> None:
    older = _submission(order, buyer, 40_000)
    newer = _submission(order, buyer, 60_000)
    payment = money.payment_record(
        actor=order.owner,
        buyer=buyer,
        group_order=order,
        currency="PHP",
        amount_minor=70_000,
        method_type="cash",
        source=Payment.Source.MANUAL,
        paid_at=PAID_AT,
        idempotency_key="auto",
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.paid_minor, newer.status, newer.paid_minor) == (
        "verified",
        40_000,
        "partially_paid",
        30_000,
    )
    assert payment.fee_minor == 0


def test_allocating_more_than_due_is_refused_and_nothing_is_written(order, buyer) -> None:
    a = _submission(order, buyer, 100_000)
    b = _submission(order, buyer, 20_000)

    with pytest.raises(PaymentRuleViolation, match=r"has only ₱200\.00 left to pay"):
        record([(a, 100_000), (b, 30_000)], 130_000)

    assert Payment.objects.count() == PaymentAllocation.objects.count() == 0
    assert list(Submission.objects.order_by("pk").values_list("status", "paid_minor")) == [
        ("pending_payment", 0),
        ("pending_payment", 0),
    ]
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "positive whole number"),
        (-500, "positive whole number"),
        (10_000_001, "at most ₱100,000.00"),
    ],
)
def test_amount_must_be_positive_and_within_the_limit(order, buyer, amount, message) -> None:
    submission = _submission(order, buyer, 100_000)
    with pytest.raises(PaymentRuleViolation, match=message):
        record([(submission, 100_000)], amount)
    assert Payment.objects.count() == 0


def test_the_limit_itself_is_accepted(order, buyer) -> None:
    submission = _submission(order, buyer, 10_000_000)
    payment = record([(submission, 10_000_000)], 10_000_000, method_type="cash")
    assert payment.amount_minor == 10_000_000


def test_myr_limit_comes_from_the_setting(settings, buyer) -> None:
    settings.PAYMENT_LIMITS_MINOR = {"PHP": 10_000_000, "MYR": 500_000}
    order = GroupOrderFactory(country="MY", currency="MYR")
    submission = _submission(order, buyer, 400_000)
    with pytest.raises(PaymentRuleViolation, match=r"at most RM 5,000\.00"):
        record([(submission, 400_000)], 500_001, method_type="cash")
    assert Payment.objects.count() == 0


def test_currency_must_match_the_group_order(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    with pytest.raises(PaymentRuleViolation, match="paid in PHP, not MYR"):
        money.payment_record(
            actor=order.owner,
            buyer=buyer,
            group_order=order,
            currency="MYR",
            amount_minor=100_000,
            method_type="cash",
            source=Payment.Source.MANUAL,
            paid_at=PAID_AT,
            idempotency_key="k",
            allocations=[(submission, 100_000)],
        )
    assert Payment.objects.count() == 0


def test_another_buyers_submission_cannot_be_allocated(order, buyer) -> None:
    mine = _submission(order, buyer, 100_000)
    theirs = _submission(order, UserFactory(), 100_000)
    with pytest.raises(PaymentRuleViolation, match="not this buyer's"):
        record([(mine, 100_000), (theirs, 100_000)], 200_000)
    assert Payment.objects.count() == 0


def test_same_key_replays_and_a_different_payment_with_it_is_refused(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    first = record([(submission, 60_000)], 60_000, key="same")
    again = record([(submission, 60_000)], 60_000, key="same")
    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict):
        record([(submission, 40_000)], 40_000, key="same")
    submission.refresh_from_db()
    assert (Payment.objects.count(), submission.paid_minor) == (1, 60_000)


def test_a_paid_submission_takes_no_more_payment(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    record([(submission, 100_000)], 100_000, key="a")
    with pytest.raises(PaymentRuleViolation, match="is verified and takes no payment"):
        record([(submission, 1)], 1, key="b")
    assert Payment.objects.count() == 1


def test_allocated_payment_and_submission_cannot_be_deleted(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 100_000)
    with pytest.raises(ProtectedError), transaction.atomic():
        payment.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        Submission.objects.get(pk=submission.pk).delete()
    assert (Payment.objects.count(), PaymentAllocation.objects.count()) == (1, 1)


def test_database_refuses_a_payment_below_its_allocations(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 100_000)
    with pytest.raises(IntegrityError, match="payment_not_below_allocations"), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_minor=99_999)
    assert Payment.objects.get(pk=payment.pk).amount_minor == 100_000


def test_correcting_below_the_allocations_is_refused(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 120_000)
    with pytest.raises(
        PaymentRuleViolation, match=r"below what is allocated from it \(₱1,000.00\)"
    ):
        money.payment_correct_amount(
            actor=order.owner, payment=payment, amount_minor=90_000, reason="typo"
        )
    payment.refresh_from_db()
    assert (payment.amount_minor, payment.credited_minor) == (120_000, 20_000)
    assert Wallet.objects.get().balance_minor == 20_000


def test_correcting_the_overpayment_moves_the_credit(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 120_000)
    corrected = money.payment_correct_amount(
        actor=order.owner, payment=payment, amount_minor=105_000, reason="typed 1,200 for 1,050"
    )
    assert (corrected.amount_minor, corrected.credited_minor, corrected.fee_minor) == (
        105_000,
        5_000,
        4_675,  # 3.5% of 1,050.00 = 36.75, + 10.00
    )
    wallet = Wallet.objects.get()
    assert wallet.balance_minor == 5_000
    assert list(
        CreditGrant.objects.order_by("id").values_list("status", "amount_minor", "remaining_minor")
    ) == [("reversed", 20_000, 0), ("active", 5_000, 5_000)]
    assert AuditEvent.objects.filter(action="payment.amount_corrected").count() == 1


def test_void_reverses_allocations_credit_and_state(order, buyer) -> None:
    a = _submission(order, buyer, 100_000)
    b = _submission(order, buyer, 50_000)
    payment = record([(a, 100_000), (b, 20_000)], 130_000)
    gom = order.owner

    voided = money.payment_void(actor=gom, payment=payment, reason="Transfer bounced")

    assert (voided.status, voided.void_reason, voided.allocated_minor) == (
        "voided",
        "Transfer bounced",
        0,
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.paid_minor, b.status, b.paid_minor) == (
        "pending_payment",
        0,
        "pending_payment",
        0,
    )
    assert list(PaymentAllocation.objects.values_list("is_reversed", flat=True)) == [True, True]
    wallet = Wallet.objects.get()
    assert wallet.balance_minor == 0
    assert list(WalletEntry.objects.order_by("id").values_list("kind", "amount_minor")) == [
        ("grant", 10_000),
        ("reversal", -10_000),
    ]
    assert actions()[-4:] == [
        "submission.state_changed",
        "submission.state_changed",
        "wallet.reversed",
        "payment.voided",
    ]
    # Voiding again is harmless.
    assert money.payment_void(actor=gom, payment=payment, reason="again").status == "voided"
    assert AuditEvent.objects.filter(action="payment.voided").count() == 1


def test_void_of_one_of_two_payments_leaves_partially_paid(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    first = record([(submission, 40_000)], 40_000, key="a")
    record([(submission, 60_000)], 60_000, key="b")
    money.payment_void(actor=order.owner, payment=first, reason="Counted twice")
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("partially_paid", 60_000)


def test_void_is_refused_when_the_overpayment_credit_was_spent(order, buyer) -> None:
    a = _submission(order, buyer, 100_000)
    b = _submission(order, buyer, 10_000)
    payment = record([(a, 100_000)], 105_000, key="over")
    money.wallet_apply_credit(actor=buyer, submission=b, idempotency_key="use")
    with pytest.raises(PaymentRuleViolation, match="already used"):
        money.payment_void(actor=order.owner, payment=payment, reason="bounced")
    payment.refresh_from_db()
    a.refresh_from_db()
    assert (payment.status, a.status) == ("recorded", "verified")


def test_void_needs_a_reason(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 100_000)
    with pytest.raises(PaymentRuleViolation, match="Say why"):
        money.payment_void(actor=order.owner, payment=payment, reason=" ")
    assert Payment.objects.get().status == "recorded"


def test_fee_rule_in_force_on_the_payments_local_date(order, buyer) -> None:
    FeeRule.objects.filter(method_type="gcash").update(effective_to=date(2026, 10, 31))
    FeeRule.objects.create(
        method_type="gcash",
        currency="PHP",
        percent_basis_points=200,
        fixed_minor=500,
        effective_from=date(2026, 11, 1),
    )
    submission = _submission(order, buyer, 100_000)
    # 2026-10-31 16:30 UTC is already 1 November in Manila: the new rule applies.
    late = record(
        [(submission, 50_000)],
        50_000,
        key="nov",
        paid_at=datetime(2026, 10, 31, 16, 30, tzinfo=UTC),
    )
    early = record(
        [(submission, 50_000)],
        50_000,
        key="oct",
        paid_at=datetime(2026, 10, 31, 15, 30, tzinfo=UTC),
    )
    assert (late.fee_minor, early.fee_minor) == (1_500, 2_750)  # 2%+5 ; 3.5%+10
    assert late.fee_rule.effective_from == date(2026, 11, 1)
    # The fee is stored: editing the rule later never changes a recorded payment.
    FeeRule.objects.filter(effective_from=date(2026, 11, 1)).update(percent_basis_points=900)
    late.refresh_from_db()
    assert late.fee_minor == 1_500


def test_maya_default_fee(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 100_000)], 100_000, method_type="maya")
    assert payment.fee_minor == 4_000  # 2.5% of 1,000.00 + 15.00


def test_overlapping_fee_rules_are_refused_by_validation() -> None:
    from django.core.exceptions import ValidationError

    rule = FeeRule(
        method_type="gcash",
        currency="PHP",
        percent_basis_points=100,
        fixed_minor=0,
        effective_from=date(2025, 1, 1),
    )
    with pytest.raises(ValidationError, match="in force during these dates"):
        rule.full_clean()


def test_payment_in_the_future_is_refused(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    with pytest.raises(PaymentRuleViolation, match="future"):
        record([(submission, 100_000)], 100_000, paid_at=timezone.now() + timedelta(hours=1))
    assert Payment.objects.count() == 0


def test_rejected_submission_cannot_be_paid_by_a_manual_record(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000, status="rejected")
    with pytest.raises(PaymentRuleViolation, match="takes no payment"):
        record([(submission, 100_000)], 100_000)
    assert Payment.objects.count() == 0


def test_proof_submitted_submission_keeps_its_proof_state_when_payment_is_voided(
    order, buyer
) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = record([(submission, 40_000)], 40_000)
    from payments.services import submission_transition

    submission_transition(actor=StaffFactory(), submission=submission, target="proof_submitted")
    money.payment_void(actor=order.owner, payment=payment, reason="bounced")
    submission.refresh_from_db()
    assert (submission.status, submission.paid_minor) == ("proof_submitted", 0)
    with pytest.raises(InvalidTransition):
        submission_transition(actor=order.owner, submission=submission, target="pending_payment")


def test_group_order_is_taken_from_the_allocations(order, buyer) -> None:
    submission = _submission(order, buyer, 100_000)
    payment = money.payment_record(
        actor=order.owner,
        buyer=buyer,
        currency="PHP",
        amount_minor=100_000,
        method_type="cash",
        source=Payment.Source.PROOF,
        source_reference="proof:17",
        paid_at=PAID_AT,
        idempotency_key="proof-17",
        allocations=[(submission, 100_000)],
    )
    assert (payment.group_order, payment.source, payment.source_reference) == (
        order,
        "proof",
        "proof:17",
    )


@pytest.mark.parametrize(
    ("basis_points", "fixed_minor", "currency", "text"),
    [
        (350, 1_000, "PHP", "3.5% + ₱10.00"),
        (200, 0, "MYR", "2%"),
        (0, 50, "MYR", "RM 0.50"),
        (0, 0, "PHP", "no fee"),
    ],
)
def test_fee_described_for_the_pay_page(
    basis_points: int, fixed_minor: int, currency: str, text: str
) -> None:
    rule = FeeRule(percent_basis_points=basis_points, fixed_minor=fixed_minor)
    assert fee_describe(rule=rule, currency=currency) == text
    assert fee_describe(rule=None, currency=currency) == "no fee"
