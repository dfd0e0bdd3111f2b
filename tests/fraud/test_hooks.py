"""The checks start after commit from where submissions and proofs are made, and never block."""

import io
from unittest import mock

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from PIL import Image

from audit.models import AuditEvent
from fraud import tasks
from fraud.models import FraudLog, Rule
from payments.models import Submission, SubmissionStatus
from payments.services import LineRequest, submission_create
from tests.factories import GroupOrderItemFactory, SubmissionFactory
from verification.models import PaymentProof, ProofReview

pytestmark = pytest.mark.django_db


def _place(order: object, buyer: object) -> Submission:
    item = GroupOrderItemFactory(group_order=order, unit_price_minor=125_000)
    return submission_create(
        actor=buyer,
        group_order=order,  # type: ignore[arg-type]
        buyer=buyer,
        buyer_name="Ana Reyes",
        lines=[LineRequest(item_id=item.pk, quantity=1)],
        terms_accepted=True,
        notify=False,
    )


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), "white").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_new_submission_is_checked_after_commit_and_stays_as_placed(
    personas: object, settings: pytest.FixtureRequest, django_capture_on_commit_callbacks: object
) -> None:
    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 100_000}  # type: ignore[attr-defined]
    with mock.patch.object(
        tasks.check_submission_task, "delay", wraps=tasks.check_submission_task.delay
    ) as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:  # type: ignore[operator]
            submission = _place(personas.order, personas.buyer)  # type: ignore[attr-defined]
        # Nothing is enqueued while the transaction is open …
        delay.assert_not_called()
        assert FraudLog.objects.count() == 0
        # … and once it commits, the check runs (in-process: Celery is eager in tests).
        for callback in callbacks:
            callback()
        delay.assert_called_once_with(submission.pk)

    [hit] = FraudLog.objects.all()
    assert (hit.rule, hit.submission_id, hit.buyer_id, hit.group_order_id) == (
        Rule.AMOUNT_OVER_LIMIT,
        submission.pk,
        personas.buyer.pk,  # type: ignore[attr-defined]
        personas.order.pk,  # type: ignore[attr-defined]
    )
    assert hit.details == {"amount_minor": 125_000, "currency": "PHP", "limit_minor": 100_000}
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.PENDING_PAYMENT
    assert submission.amount_due_minor == 125_000


def test_no_check_is_enqueued_when_the_transaction_rolls_back(
    personas: object, settings: pytest.FixtureRequest, django_capture_on_commit_callbacks: object
) -> None:
    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 100_000}  # type: ignore[attr-defined]

    def place_then_fail() -> None:
        with transaction.atomic():
            _place(personas.order, personas.buyer)  # type: ignore[attr-defined]
            raise RuntimeError("the caller's transaction fails after the submission")

    with (
        mock.patch.object(tasks.check_submission_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,  # type: ignore[operator]
        pytest.raises(RuntimeError),
    ):
        place_then_fail()
    assert callbacks == []
    delay.assert_not_called()
    assert FraudLog.objects.count() == 0
    assert Submission.objects.filter(buyer_name="Ana Reyes").count() == 0


def test_an_upload_over_the_hourly_limit_is_stored_and_flagged_not_refused(
    personas: object, settings: pytest.FixtureRequest, django_capture_on_commit_callbacks: object
) -> None:
    settings.FRAUD_MAX_PROOFS_PER_HOUR = 1  # type: ignore[attr-defined]
    buyer, order = personas.buyer, personas.order  # type: ignore[attr-defined]
    first, second = SubmissionFactory(group_order=order, buyer=buyer), personas.submission  # type: ignore[attr-defined]
    client = Client()
    client.force_login(buyer)
    responses = []
    with mock.patch.object(
        tasks.check_proof_task, "delay", wraps=tasks.check_proof_task.delay
    ) as delay:
        for submission in (first, second):
            with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
                upload = io.BytesIO(_png())
                upload.name = "receipt.png"
                responses.append(
                    client.post(
                        reverse("verification:proof-upload", args=[submission.code]),
                        {"file": upload},
                    )
                )

    assert [response.status_code for response in responses] == [302, 302]
    proof = PaymentProof.objects.get(submission=second)
    # After upload and again after the agent's reading: two runs, one hit.
    assert sorted(call.args for call in delay.call_args_list) == sorted(
        [(PaymentProof.objects.get(submission=first).pk,)] * 2 + [(proof.pk,)] * 2
    )
    [hit] = FraudLog.objects.all()
    assert (hit.rule, hit.proof_id, hit.submission_id) == (
        Rule.PROOFS_PER_HOUR,
        proof.pk,
        second.pk,
    )
    assert hit.details == {"count": 2, "limit": 1, "window_seconds": 3600}
    assert AuditEvent.objects.filter(action="fraud.flagged").count() == 1
    second.refresh_from_db()
    assert second.status == SubmissionStatus.PROOF_SUBMITTED
    review = ProofReview.objects.get(pk=proof.pk)
    assert review.state == ProofReview.State.AWAITING
    assert review.fraud_hits == [
        {"rule": "proofs_per_hour", "summary": "2 proofs by this buyer in an hour (limit 1)"}
    ]


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_at_commit_the_check_waits_in_the_outbox_and_runs_on_the_drain(
    personas: object, settings: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from kombu.exceptions import OperationalError

    from outbox.models import Message
    from outbox.tasks import deliver_message, drain

    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 100_000}  # type: ignore[attr-defined]
    monkeypatch.setattr(deliver_message, "delay", broker_down)
    submission = _place(personas.order, personas.buyer)  # type: ignore[attr-defined]

    # The order stands; the check waits in the outbox instead of being lost.
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.PENDING_PAYMENT
    assert FraudLog.objects.count() == 0
    waiting = Message.objects.get(topic="celery.task")
    assert waiting.payload == {"task": "fraud.check_submission", "args": [submission.pk]}
    assert waiting.delivered_at is None

    monkeypatch.undo()
    Message.objects.filter(pk=waiting.pk).update(
        created_at=waiting.created_at - timedelta(seconds=60)
    )
    assert drain() == 1
    assert drain() == 0
    [hit] = FraudLog.objects.all()
    assert (hit.rule, hit.submission_id) == (Rule.AMOUNT_OVER_LIMIT, submission.pk)
