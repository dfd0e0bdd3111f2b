"""Each stuck-payment recovery rule, with the clock moved by time-machine."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from ops.recovery import MAX_ANALYSIS_REQUEUES, recover_stuck
from payments.models import Submission
from tests.factories import GroupOrderFactory, SubmissionFactory
from tests.verification.receipts import generate
from verification.models import PaymentProof

START = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def order(db: None) -> object:
    with time_machine.travel(START, tick=False):
        return GroupOrderFactory(
            order_deadline=START + timedelta(days=5), payment_deadline=START + timedelta(days=7)
        )


def test_buyers_are_reminded_once_a_day_before_the_deadline_and_not_before(
    order: object, django_capture_on_commit_callbacks: object
) -> None:
    with time_machine.travel(START, tick=False):
        unpaid = SubmissionFactory(group_order=order)
        SubmissionFactory(group_order=order, status="verified")
    with time_machine.travel(START + timedelta(days=5), tick=False):
        assert recover_stuck().buyers_reminded == []  # two days before: too early
    with time_machine.travel(START + timedelta(days=6, hours=2), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            report = recover_stuck()
        with django_capture_on_commit_callbacks(execute=True):
            again = recover_stuck()
    assert report.buyers_reminded == [unpaid.code]
    assert again.buyers_reminded == []
    assert [m.subject for m in mail.outbox] == [
        f"Reminder: order {unpaid.code} is waiting for payment"
    ]
    assert "Still to pay: ₱1,250.00" in mail.outbox[0].body


def test_unpaid_submissions_expire_after_the_grace_period(order: object) -> None:
    with time_machine.travel(START, tick=False):
        unpaid = SubmissionFactory(group_order=order)
        under_review = SubmissionFactory(group_order=order, status="proof_submitted")
    with time_machine.travel(START + timedelta(days=7, hours=11), tick=False):
        assert recover_stuck().submissions_expired == []  # within the 12 h grace
    with time_machine.travel(START + timedelta(days=7, hours=13), tick=False):
        report = recover_stuck()
    assert report.submissions_expired == [unpaid.code]
    assert Submission.objects.get(pk=unpaid.pk).status == "expired"
    assert Submission.objects.get(pk=under_review.pk).status == "proof_submitted"
    event = AuditEvent.objects.get(action="submission.state_changed", object_id=str(unpaid.pk))
    assert (event.actor, event.after["status"]) == (None, "expired")


def test_proofs_waiting_past_the_sla_are_counted_and_the_gom_told_once_a_day(
    order: object, django_capture_on_commit_callbacks: object
) -> None:
    with time_machine.travel(START, tick=False):
        for _ in range(2):
            SubmissionFactory(group_order=order, status="proof_submitted")
    with time_machine.travel(START + timedelta(hours=23), tick=False):
        assert recover_stuck().proofs_past_sla == 0
    with time_machine.travel(START + timedelta(hours=25), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            report = recover_stuck()
        with django_capture_on_commit_callbacks(execute=True):
            recover_stuck()
    assert (report.proofs_past_sla, report.goms_reminded) == (2, [order.pk])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [order.owner.email]
    assert mail.outbox[0].subject == f"2 proofs waiting for you in {order.title}"


def test_a_stuck_analysis_is_queued_again_three_times_then_handed_to_people(
    order: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verification.tasks import analyze_proof_task

    queued: list[int] = []
    monkeypatch.setattr(analyze_proof_task, "delay", queued.append)
    with time_machine.travel(START, tick=False):
        submission = SubmissionFactory(group_order=order)
        receipt = generate("gcash", random.Random(4), damage=False)
        from verification.services import proof_submit

        proof = proof_submit(
            actor=submission.buyer,
            submission=submission,
            upload=SimpleUploadedFile("r.png", receipt.data, content_type="image/png"),
            original_name="r.png",
        )
    assert PaymentProof.objects.get(pk=proof.pk).analysis_status == "pending"
    for minutes in range(1, MAX_ANALYSIS_REQUEUES + 2):
        with time_machine.travel(START + timedelta(minutes=10 * minutes + 1), tick=False):
            recover_stuck()
    assert queued == [proof.pk] * MAX_ANALYSIS_REQUEUES
    stored = PaymentProof.objects.get(pk=proof.pk)
    assert stored.analysis_status == "unavailable"
    assert stored.analysis_reason.startswith("The analysis did not finish after 3 tries")
    assert AuditEvent.objects.filter(action="proof.analysis_requeued").count() == 3
    assert AuditEvent.objects.filter(action="proof.analysis_given_up").count() == 1


def test_more_than_five_stuck_raises_an_alert(order: object, settings: object) -> None:
    settings.ADMINS = [("Ops", "ops@example.test")]
    with time_machine.travel(START, tick=False):
        for _ in range(6):
            SubmissionFactory(group_order=order, status="proof_submitted")
    with time_machine.travel(START + timedelta(hours=30), tick=False):
        report = recover_stuck()
    assert (report.stuck_total, report.alerted) == (6, True)
    alert = AuditEvent.objects.get(action="ops.stuck_payments_alert")
    assert alert.after["proofs_past_sla"] == 6
    assert any(m.subject.endswith("6 stuck payments") for m in mail.outbox)


def test_five_stuck_is_no_alert(order: object) -> None:
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            SubmissionFactory(group_order=order, status="proof_submitted")
    with time_machine.travel(START + timedelta(hours=30), tick=False):
        report = recover_stuck()
    assert (report.stuck_total, report.alerted) == (5, False)
    assert not AuditEvent.objects.filter(action="ops.stuck_payments_alert").exists()
