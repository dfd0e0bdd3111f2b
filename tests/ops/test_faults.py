"""Fault tests with real processes: a worker killed mid-task, and Redis down while deciding."""

import os
import signal
from pathlib import Path

import pytest
from django.db import transaction

from config.celery import app
from outbox.models import Message
from outbox.services import outbox_publish
from tests.ops.workers import (
    celery_worker,
    current_test_database_url,
    free_port,
    redis_server,
    wait_until,
)


@pytest.fixture
def broker(tmp_path: Path) -> object:
    """A throw-away Redis on a free port, used as broker by this test and its workers."""
    port = free_port()
    with redis_server(port, tmp_path) as server:
        yield {"port": port, "url": f"redis://127.0.0.1:{port}/0", "server": server}


@pytest.fixture
def real_broker(broker: dict, settings: object) -> dict:
    # This process publishes through the real broker instead of running tasks in-process.
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    _use_broker(broker["url"])
    yield broker
    app.conf.task_always_eager = previous[0]
    _use_broker(previous[1])


def _use_broker(url: str) -> None:
    # Celery caches its connection and producer pools; drop them so the next publish connects
    # to ``url``. The old pools are left to the garbage collector rather than closed: something
    # may still hold one, and a closed kombu pool refuses every later acquire.
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_is_replaced_and_the_effect_happens_once(
    real_broker: dict, tmp_path: Path
) -> None:
    effect = tmp_path / "effect.txt"
    env = {
        "DATABASE_URL": current_test_database_url(),
        "REDIS_URL": real_broker["url"],
        "OUTBOX_CLAIM_SECONDS": "3",
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": "5",
        "CELERY_RESTORE_SWEEP_SECONDS": "1",
    }
    log = tmp_path / "worker.log"
    with celery_worker(env, log) as first:
        with transaction.atomic():
            message = outbox_publish(
                topic="test.slow_append",
                payload={"sleep": 4, "path": str(effect), "line": "paid"},
            )

        def claimed() -> bool:
            return Message.objects.get(pk=message.pk).claimed_until is not None

        wait_until(claimed, timeout=30, what="the first worker to start the task")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert not effect.exists()  # it died in the middle

    with celery_worker(env, log):
        wait_until(lambda: effect.exists(), timeout=60, what="the redelivered task")
        wait_until(
            lambda: Message.objects.get(pk=message.pk).delivered_at is not None,
            timeout=30,
            what="the delivery mark",
        )
    assert effect.read_text() == "paid\n"
    stored = Message.objects.get(pk=message.pk)
    assert (stored.attempts, stored.last_error) == (1, "")


@pytest.mark.django_db(transaction=True)
def test_decisions_taken_while_redis_is_down_are_announced_once_when_it_returns(
    real_broker: dict, tmp_path: Path, settings: object
) -> None:
    from payments.services import submission_transition
    from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory
    from tests.webhooks.test_webhooks import Receiver
    from webhooks.models import Delivery
    from webhooks.services import webhook_endpoint_create

    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    mail_dir = tmp_path / "mail"
    with Receiver() as receiver:
        gom = StaffFactory()
        order = GroupOrderFactory(owner=gom)
        webhook_endpoint_create(
            actor=gom, owner=gom, url=receiver.url, event_types=["submission.verified"]
        )
        submissions = [
            SubmissionFactory(group_order=order, status="proof_submitted") for _ in range(3)
        ]

        # Redis goes away; the GOM keeps verifying.
        real_broker["server"].send_signal(signal.SIGKILL)
        real_broker["server"].wait(timeout=10)
        for submission in submissions:
            submission_transition(actor=gom, submission=submission, target="verified")
        assert Message.objects.filter(delivered_at__isnull=True).count() == 3
        assert Delivery.objects.filter(status="pending").count() == 3
        assert receiver.received == []

        # Redis comes back; a worker drains what waited, once.
        with redis_server(real_broker["port"], tmp_path):
            env = {
                "DATABASE_URL": current_test_database_url(),
                "REDIS_URL": real_broker["url"],
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "EMAIL_FILE_PATH": str(mail_dir),
                "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1",
            }
            with celery_worker(env, tmp_path / "worker.log"):
                Message.objects.update(
                    created_at=Message.objects.first().created_at.replace(year=2020)
                )
                app.send_task("outbox.drain")
                app.send_task("webhooks.deliver_due")
                wait_until(
                    lambda: (
                        not Message.objects.filter(delivered_at__isnull=True).exists()
                        and not Delivery.objects.filter(status="pending").exists()
                    ),
                    timeout=60,
                    what="the drain",
                )
                # A second round finds nothing left to send.
                app.send_task("outbox.drain")
                app.send_task("webhooks.deliver_due")
                log = tmp_path / "worker.log"
                wait_until(
                    lambda: (
                        log.read_text().count("outbox.drain") >= 4
                        and log.read_text().count("webhooks.deliver_due") >= 4
                    ),
                    timeout=30,
                    what="the second round",
                )
    assert len(receiver.received) == 3
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 3
    # Django's file backend appends to a file named by the second and the backend object's id,
    # so two e-mails can share a file: count the messages by their separator line.
    separator = "\n" + "-" * 79 + "\n"
    sent = [
        text
        for path in sorted(mail_dir.iterdir())
        for text in path.read_text().split(separator)
        if text.strip()
    ]
    assert len(sent) == 3
    assert all("is verified" in text for text in sent)
