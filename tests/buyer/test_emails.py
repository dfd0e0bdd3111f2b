"""Every buyer e-mail: what triggers it and what it says. All are sent after commit."""

import random

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from payments.demo import record_demo_payment
from payments.models import Refund
from payments.money import services as money
from payments.services import submission_transition
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from tests.verification.receipts import generate
from verification.services import proof_submit


@pytest.fixture
def world(db: None) -> dict:
    gom = StaffFactory()
    order = GroupOrderFactory(owner=gom, title="FML album GO")
    buyer = UserFactory(email="ana@example.test")
    submission = SubmissionFactory(
        group_order=order, buyer=buyer, buyer_name="Ana Cruz", amount_due_minor=125_000
    )
    return {"gom": gom, "order": order, "buyer": buyer, "submission": submission}


def _only_mail() -> mail.EmailMessage:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    return mail.outbox[0]


def test_proof_received(world: dict, django_capture_on_commit_callbacks: object) -> None:
    receipt = generate("gcash", random.Random(3), damage=False)
    upload = SimpleUploadedFile("r.png", receipt.data, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        proof_submit(
            actor=world["buyer"],
            submission=world["submission"],
            upload=upload,
            original_name="r.png",
        )
    message = _only_mail()
    code = world["submission"].code
    assert message.to == ["ana@example.test"]
    assert message.subject == f"We received your proof of payment for {code}"
    assert f"We received your proof of payment for order {code}." in message.body
    assert f"http://127.0.0.1:8000/s/{code}/" in message.body
    assert "<strong>" + code + "</strong>" in message.alternatives[0][0]


def test_verified(world: dict, django_capture_on_commit_callbacks: object) -> None:
    submission_transition(
        actor=world["buyer"], submission=world["submission"], target="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_demo_payment(gom=world["gom"], submission=world["submission"], amount_minor=125_000)
    message = _only_mail()
    assert message.subject == f"Your payment for {world['submission'].code} is verified"
    assert "Paid: ₱1,250.00" in message.body
    assert "download your receipt" in message.body


def test_rejected_carries_the_reason_and_a_re_upload_link(
    world: dict, django_capture_on_commit_callbacks: object
) -> None:
    submission_transition(
        actor=world["buyer"], submission=world["submission"], target="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(
            actor=world["gom"],
            submission=world["submission"],
            target="rejected",
            notes="Amount does not match",
        )
    message = _only_mail()
    code = world["submission"].code
    assert message.subject == f"Your proof of payment for {code} needs another look"
    assert "Reason: Amount does not match" in message.body
    assert f"Upload a new proof here: http://127.0.0.1:8000/s/{code}/" in message.body


def test_refund_to_store_credit_is_announced_once_as_paid(
    world: dict, django_capture_on_commit_callbacks: object
) -> None:
    payment = record_demo_payment(
        gom=world["gom"], submission=world["submission"], amount_minor=125_000
    )
    refund = money.refund_request(
        actor=world["buyer"],
        payment=payment,
        submission=world["submission"],
        amount_minor=35_000,
        destination=Refund.Destination.WALLET,
        reason="item_unavailable",
        idempotency_key="r1",
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        money.refund_approve(actor=world["gom"], refund=refund)
    message = _only_mail()
    assert message.subject == f"Your refund for {world['submission'].code} is paid"
    assert "Your refund of ₱350.00" in message.body
    assert "It is in your store credit with this GOM" in message.body


def test_refund_to_the_original_method_is_announced_when_approved_and_when_paid(
    world: dict, django_capture_on_commit_callbacks: object
) -> None:
    payment = record_demo_payment(
        gom=world["gom"], submission=world["submission"], amount_minor=125_000
    )
    refund = money.refund_request(
        actor=world["buyer"],
        payment=payment,
        submission=world["submission"],
        amount_minor=125_000,
        destination=Refund.Destination.ORIGINAL_METHOD,
        reason="item_unavailable",
        idempotency_key="r2",
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        money.refund_approve(actor=world["gom"], refund=refund)
    approved = _only_mail()
    assert approved.subject == f"Your refund for {world['submission'].code} is approved"
    assert "back through your original payment method" in approved.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        money.refund_mark_paid(actor=world["gom"], refund=refund, payout_reference="7037651006674")
    paid = _only_mail()
    assert paid.subject == f"Your refund for {world['submission'].code} is paid"
    assert "Payout reference: 7037651006674" in paid.body


def _reject_then_fail(world: dict) -> None:
    from django.db import transaction

    with transaction.atomic():
        submission_transition(
            actor=world["buyer"], submission=world["submission"], target="proof_submitted"
        )
        submission_transition(
            actor=world["gom"], submission=world["submission"], target="rejected", notes="x"
        )
        raise RuntimeError("rolled back")


def test_a_failed_transaction_sends_nothing(
    world: dict, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        _reject_then_fail(world)
    assert mail.outbox == []
    world["submission"].refresh_from_db()
    assert world["submission"].status == "pending_payment"
