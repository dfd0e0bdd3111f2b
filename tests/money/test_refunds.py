"""Refunds: every state change, every policy check, with exact amounts and audit rows."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent
from payments.exceptions import PaymentRuleViolation
from payments.models import Payment, Refund, Submission
from payments.money import services as money
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import record
from wallet.models import CreditGrant, Wallet, WalletEntry

pytestmark = pytest.mark.django_db


# Audit rows are append-only (a PostgreSQL trigger refuses DELETE), so the tests count from here.
_baseline = {"id": 0}


def _events():  # type: ignore[no-untyped-def]
    return AuditEvent.objects.filter(id__gt=_baseline["id"])


@pytest.fixture
def paid():  # type: ignore[no-untyped-def]
    """A buyer's submission of PHP 1,000.00 paid in full by one GCash payment."""
    order = GroupOrderFactory()
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    payment = record([(submission, 100_000)], 100_000)
    _baseline["id"] = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
    return order, buyer, submission, payment


def _request(payment, buyer, amount, *, key="r1", destination="wallet", reason="item_unavailable"):  # type: ignore[no-untyped-def]
    return money.refund_request(
        actor=buyer,
        payment=payment,
        amount_minor=amount,
        destination=destination,
        reason=reason,
        idempotency_key=key,
    )


def _state(payment, submission):  # type: ignore[no-untyped-def]
    payment.refresh_from_db()
    submission.refresh_from_db()
    return (payment.refund_reserved_minor, submission.status, submission.refunded_minor)


def test_request_reserves_the_amount_on_the_payment(paid) -> None:
    _order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 30_000)
    assert (refund.status, refund.amount_minor, refund.submission, refund.buyer) == (
        "requested",
        30_000,
        submission,
        buyer,
    )
    assert _state(payment, submission) == (30_000, "verified", 0)
    event = _events().get()
    assert (event.action, event.actor, event.after["amount_minor"]) == (
        "refund.requested",
        buyer,
        30_000,
    )


def test_wallet_refund_is_paid_on_approval_and_partially_refunds(paid) -> None:
    order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 30_000)
    approved = money.refund_approve(actor=order.owner, refund=refund)
    assert (approved.status, approved.processed_by, approved.paid_at is not None) == (
        "paid",
        order.owner,
        True,
    )
    grant = CreditGrant.objects.get()
    assert (grant.kind, grant.amount_minor, grant.source_id) == ("refund", 30_000, str(refund.pk))
    assert approved.credit_grant == grant
    assert Wallet.objects.get(buyer=buyer).balance_minor == 30_000
    assert _state(payment, submission) == (30_000, "partially_refunded", 30_000)
    assert list(_events().order_by("id").values_list("action", flat=True)) == [
        "refund.requested",
        "wallet.credit_granted",
        "submission.state_changed",
        "refund.approved",
    ]
    # Approving again is harmless.
    assert money.refund_approve(actor=order.owner, refund=refund).status == "paid"
    assert CreditGrant.objects.count() == 1


def test_original_method_refund_waits_for_the_payout_then_refunds_fully(paid) -> None:
    order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 100_000, destination="original_method")
    approved = money.refund_approve(actor=order.owner, refund=refund)
    assert approved.status == "approved"
    assert _state(payment, submission) == (100_000, "verified", 0)
    with pytest.raises(PaymentRuleViolation, match="reference of the payout"):
        money.refund_mark_paid(actor=order.owner, refund=refund, payout_reference="  ")
    paid_refund = money.refund_mark_paid(
        actor=order.owner, refund=refund, payout_reference="GC 9876 543 21"
    )
    assert (paid_refund.status, paid_refund.payout_reference) == ("paid", "GC 9876 543 21")
    assert _state(payment, submission) == (100_000, "refunded", 100_000)
    assert CreditGrant.objects.count() == 0
    assert list(_events().order_by("id").values_list("action", flat=True)) == [
        "refund.requested",
        "refund.approved",
        "submission.state_changed",
        "refund.paid",
    ]


def test_reject_frees_the_amount_and_needs_a_reason(paid) -> None:
    order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 100_000)
    with pytest.raises(PaymentRuleViolation, match="Say why"):
        money.refund_reject(actor=order.owner, refund=refund, reason="")
    rejected = money.refund_reject(actor=order.owner, refund=refund, reason="Item shipped")
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "Item shipped")
    assert _state(payment, submission) == (0, "verified", 0)
    # The freed amount can be asked for again.
    again = _request(payment, buyer, 100_000, key="r2")
    assert again.status == "requested"


def test_approved_payout_can_still_be_rejected(paid) -> None:
    order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 50_000, destination="original_method")
    money.refund_approve(actor=order.owner, refund=refund)
    rejected = money.refund_reject(actor=order.owner, refund=refund, reason="Account closed")
    assert rejected.status == "rejected"
    assert _state(payment, submission) == (0, "verified", 0)


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("rejected", "approve"),
        ("paid", "reject"),
        ("requested", "mark_paid"),
        ("rejected", "mark_paid"),
    ],
)
def test_illegal_refund_moves_are_refused_and_change_nothing(paid, start, action) -> None:
    order, buyer, submission, payment = paid
    refund = _request(payment, buyer, 10_000, destination="original_method")
    if start == "rejected":
        money.refund_reject(actor=order.owner, refund=refund, reason="no")
    if start == "paid":
        money.refund_approve(actor=order.owner, refund=refund)
        money.refund_mark_paid(actor=order.owner, refund=refund, payout_reference="X1")
    before = (Refund.objects.get().status, _state(payment, submission), _events().count())
    decide = {
        "approve": lambda: money.refund_approve(actor=order.owner, refund=refund),
        "reject": lambda: money.refund_reject(actor=order.owner, refund=refund, reason="late"),
        "mark_paid": lambda: money.refund_mark_paid(
            actor=order.owner, refund=refund, payout_reference="X2"
        ),
    }[action]
    with pytest.raises(PaymentRuleViolation, match="A refund cannot go from"):
        decide()
    after = (Refund.objects.get().status, _state(payment, submission), _events().count())
    assert after == before


def test_wallet_refund_is_not_marked_paid_by_hand(paid) -> None:
    order, buyer, _submission, payment = paid
    refund = _request(payment, buyer, 10_000)
    money.refund_approve(actor=order.owner, refund=refund)
    assert money.refund_mark_paid(
        actor=order.owner, refund=refund, payout_reference="X"
    ).status == ("paid")
    assert Refund.objects.get().payout_reference == ""


def test_refunds_never_exceed_the_payment(paid) -> None:
    _order, buyer, submission, payment = paid
    _request(payment, buyer, 60_000, key="a")
    with pytest.raises(PaymentRuleViolation, match=r"At most ₱400.00 more"):
        _request(payment, buyer, 40_001, key="b")
    _request(payment, buyer, 40_000, key="c")
    assert _state(payment, submission) == (100_000, "verified", 0)
    assert Refund.objects.count() == 2


def test_database_refuses_refunds_over_the_payment(paid) -> None:
    *_rest, payment = paid
    with pytest.raises(IntegrityError, match="payment_refunds_within_amount"), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refund_reserved_minor=100_001)


def test_policy_deadline(paid) -> None:
    order, buyer, submission, payment = paid
    order.refunds_accepted_until = timezone.now() - timedelta(minutes=1)
    order.save(update_fields=["refunds_accepted_until"])
    with pytest.raises(PaymentRuleViolation, match="no longer accepts refund requests"):
        _request(payment, buyer, 10_000)
    assert Refund.objects.count() == 0
    assert _state(payment, submission) == (0, "verified", 0)


def test_policy_share(paid) -> None:
    order, buyer, _submission, payment = paid
    order.refundable_percent = 80
    order.save(update_fields=["refundable_percent"])
    with pytest.raises(PaymentRuleViolation, match=r"At most ₱800.00 more"):
        _request(payment, buyer, 80_001)
    assert _request(payment, buyer, 80_000, key="ok").amount_minor == 80_000


def test_policy_reasons(paid) -> None:
    order, buyer, _submission, payment = paid
    with pytest.raises(PaymentRuleViolation, match="does not refund for “Changed my mind”"):
        _request(payment, buyer, 10_000, reason="changed_mind")
    order.refund_reasons = ["changed_mind"]
    order.save(update_fields=["refund_reasons"])
    assert _request(payment, buyer, 10_000, reason="changed_mind").reason == "changed_mind"
    with pytest.raises(PaymentRuleViolation, match="does not refund for"):
        _request(payment, buyer, 10_000, key="r9", reason="item_unavailable")


def test_unpaid_or_voided_cannot_be_refunded(paid) -> None:
    order, buyer, _submission, payment = paid
    money.payment_void(actor=order.owner, payment=payment, reason="bounced")
    with pytest.raises(PaymentRuleViolation, match="voided payment"):
        _request(payment, buyer, 10_000)
    assert Refund.objects.count() == 0


def test_void_is_refused_while_refunds_exist(paid) -> None:
    order, buyer, _submission, payment = paid
    _request(payment, buyer, 10_000)
    with pytest.raises(PaymentRuleViolation, match="reject them before voiding"):
        money.payment_void(actor=order.owner, payment=payment, reason="bounced")
    assert Payment.objects.get().status == "recorded"


def test_refund_of_a_split_payment_names_the_submission() -> None:
    order = GroupOrderFactory()
    buyer = UserFactory()
    a = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=60_000)
    b = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=40_000)
    payment = record([(a, 60_000), (b, 40_000)], 100_000)
    with pytest.raises(PaymentRuleViolation, match="Say which submission"):
        _request(payment, buyer, 10_000)
    with pytest.raises(PaymentRuleViolation, match=r"At most ₱400.00 more"):
        money.refund_request(
            actor=buyer,
            payment=payment,
            submission=b,
            amount_minor=40_001,
            destination="wallet",
            reason="item_unavailable",
            idempotency_key="x",
        )
    refund = money.refund_request(
        actor=buyer,
        payment=payment,
        submission=b,
        amount_minor=40_000,
        destination="wallet",
        reason="item_unavailable",
        idempotency_key="y",
    )
    money.refund_approve(actor=order.owner, refund=refund)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status, b.refunded_minor) == ("verified", "refunded", 40_000)
    assert list(WalletEntry.objects.values_list("kind", "amount_minor")) == [("grant", 40_000)]
    assert Submission.objects.filter(status="refunded").count() == 1


def test_refund_policy_reasons_are_validated_in_the_admin_form() -> None:
    from django.core.exceptions import ValidationError

    order = GroupOrderFactory.build(refund_reasons=["item_unavailable", "because"])
    with pytest.raises(ValidationError) as raised:
        order.clean()
    assert list(raised.value.message_dict) == ["refund_reasons"]


def test_owner_edits_the_refund_policy_in_the_admin(personas) -> None:
    from django.test import Client

    client = Client()
    client.force_login(personas.owner)
    response = client.get(f"/admin/payments/grouporder/{personas.order.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="refundable_percent"' in body
    assert 'name="refund_reasons"' in body
