"""The outbox: written with the change, sent after commit, not lost while the broker is down."""

import pytest
from django.core import mail
from django.db import transaction
from kombu.exceptions import OperationalError

from outbox.models import Message
from outbox.registry import register
from outbox.services import outbox_deliver, outbox_publish
from outbox.tasks import deliver_message, drain
from payments.services import submission_transition
from tests.factories import StaffFactory, SubmissionFactory

CALLS: list[dict] = []


def record_call(payload: dict) -> None:
    CALLS.append(payload)


def fail_call(payload: dict) -> None:
    raise ConnectionError("smtp down")


@pytest.fixture(autouse=True)
def _handlers() -> None:
    CALLS.clear()
    register("test.record", "tests.outbox.test_outbox.record_call")
    register("test.fail", "tests.outbox.test_outbox.fail_call")


def _age(message: Message, seconds: int = 60) -> None:
    from datetime import timedelta

    Message.objects.filter(pk=message.pk).update(
        created_at=message.created_at - timedelta(seconds=seconds)
    )


@pytest.mark.django_db(transaction=True)
def test_a_message_is_delivered_once_after_commit() -> None:
    with transaction.atomic():
        message = outbox_publish(topic="test.record", payload={"n": 1})
        assert CALLS == []  # nothing leaves before the commit
    assert CALLS == [{"n": 1}]
    stored = Message.objects.get(pk=message.pk)
    assert (stored.attempts, stored.last_error) == (1, "")
    assert stored.delivered_at is not None
    assert outbox_deliver(message.pk) is False  # a second delivery does nothing
    assert CALLS == [{"n": 1}]


def _publish_then_fail() -> None:
    with transaction.atomic():
        outbox_publish(topic="test.record", payload={"n": 2})
        raise RuntimeError("rolled back")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_publishes_nothing() -> None:
    with pytest.raises(RuntimeError):
        _publish_then_fail()
    assert Message.objects.count() == 0
    assert CALLS == []


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_change_commits_and_the_drain_delivers_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(deliver_message, "delay", broker_down)
    submission = SubmissionFactory(status="proof_submitted")
    submission_transition(
        actor=StaffFactory(), submission=submission, target="rejected", notes="Blurry"
    )

    # The decision stands; the e-mail waits in the outbox.
    submission.refresh_from_db()
    assert submission.status == "rejected"
    message = Message.objects.get(topic="email.buyer")
    assert message.delivered_at is None
    assert mail.outbox == []

    monkeypatch.undo()
    _age(message)
    assert drain() == 1
    assert drain() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith("needs another look")


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_is_recorded_and_retried_by_the_drain() -> None:
    from outbox.services import MAX_ATTEMPTS

    # The failure after commit is logged, never raised into the request that committed.
    with transaction.atomic():
        message = outbox_publish(topic="test.fail", payload={})
    stored = Message.objects.get(pk=message.pk)
    assert (stored.attempts, stored.delivered_at) == (1, None)
    assert stored.last_error == "ConnectionError: smtp down"
    _age(stored)
    assert drain() == 0
    assert Message.objects.get(pk=message.pk).attempts == 2
    Message.objects.filter(pk=message.pk).update(attempts=MAX_ATTEMPTS)
    assert drain() == 0  # given up: stays visible in the admin with its last error
    assert Message.objects.get(pk=message.pk).attempts == MAX_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_many_messages_published_together_go_in_a_few_tasks_each_delivered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from outbox.services import outbox_publish_many
    from outbox.tasks import deliver_messages

    batches: list[list[int]] = []
    real_delay = deliver_messages.delay

    def counting_delay(message_ids: list[int]) -> object:
        batches.append(list(message_ids))
        return real_delay(message_ids)

    monkeypatch.setattr(deliver_messages, "delay", counting_delay)
    with transaction.atomic():
        messages = outbox_publish_many(topic="test.record", payloads=[{"n": n} for n in range(120)])
        outbox_publish_many(topic="test.fail", payloads=[{"n": "x"}, {"n": "y"}])
        assert CALLS == []
    # 50 a task: 50 + 50 + 20, then one task for the two failing ones.
    assert [len(batch) for batch in batches] == [50, 50, 20, 2]
    assert batches[0][0] == messages[0].pk
    assert len(CALLS) == 120
    assert [call["n"] for call in CALLS] == list(range(120))
    assert Message.objects.filter(delivered_at__isnull=False).count() == 120
    # A failing message does not stop the others; it waits for the drain with its error.
    failed = Message.objects.filter(topic="test.fail")
    assert [(m.attempts, m.delivered_at) for m in failed] == [(1, None), (1, None)]
    assert all("smtp down" in m.last_error for m in failed)
