"""Outgoing webhooks against a real receiver on 127.0.0.1, checked by the reference library."""

import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from payments.demo import record_demo_payment
from payments.services import submission_transition
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import (
    WebhookError,
    next_wait,
    webhook_deliver,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_redeliver,
)


class Receiver:
    """A tiny HTTP server that answers with the queued statuses and keeps what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver(settings: object) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with Receiver() as running:
        yield running


@pytest.fixture
def gom_endpoint(db: None, receiver: Receiver) -> tuple[object, Endpoint]:
    gom = StaffFactory()
    endpoint = webhook_endpoint_create(
        actor=gom,
        owner=gom,
        url=receiver.url,
        event_types=[
            "submission.verified",
            "submission.rejected",
            "payment.recorded",
            "refund.paid",
        ],
    )
    return gom, endpoint


def test_a_verified_submission_is_delivered_signed_and_verifiable(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, endpoint = gom_endpoint
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="verified")

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    payload = Webhook(endpoint.secrets[0]).verify(body.decode(), headers)
    assert payload["type"] == "submission.verified"
    assert payload["data"]["submission"] == submission.code
    assert payload["data"]["status"] == "verified"
    delivery = Delivery.objects.get()
    assert headers["webhook-id"] == delivery.event_id
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        "succeeded",
        1,
        200,
    )
    assert Attempt.objects.get().status_code == 200


def test_another_goms_endpoint_hears_nothing(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    other_order = GroupOrderFactory()
    submission = SubmissionFactory(group_order=other_order, status="proof_submitted")
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(
            actor=other_order.owner, submission=submission, target="rejected", notes="x"
        )
    assert receiver.received == []
    assert Delivery.objects.count() == 0


def test_a_500_is_retried_with_growing_delays_and_the_same_webhook_id(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, _endpoint = gom_endpoint
    receiver.statuses = [500, 500, 500, 200]
    submission = SubmissionFactory(group_order=GroupOrderFactory(owner=gom))
    with django_capture_on_commit_callbacks(execute=True):
        record_demo_payment(
            gom=gom, submission=submission, amount_minor=submission.amount_due_minor
        )
    deliveries = {d.event_type: d for d in Delivery.objects.all()}
    assert set(deliveries) == {"payment.recorded", "submission.verified"}
    delivery = deliveries["payment.recorded"]
    first = Delivery.objects.get(pk=delivery.pk)
    # The first attempt of either event took the first 500; follow this one's schedule.
    waits = []
    moment = timezone.now()
    for _ in range(4):
        current = Delivery.objects.get(pk=delivery.pk)
        if current.status != "pending":
            break
        moment = max(moment, current.next_attempt_at or moment) + timedelta(seconds=1)
        webhook_deliver(delivery.pk, now=moment)
        after = Delivery.objects.get(pk=delivery.pk)
        if after.next_attempt_at:
            waits.append((after.next_attempt_at - moment).total_seconds())
    final = Delivery.objects.get(pk=delivery.pk)
    assert final.status == "succeeded"
    assert waits == sorted(waits)  # each wait at least as long as the one before
    assert (
        len(
            {
                headers["webhook-id"]
                for headers, _ in receiver.received
                if json.loads(_)["type"] == "payment.recorded"
            }
        )
        == 1
    )
    assert first.event_id == final.event_id


def test_backoff_doubles_and_caps_at_six_hours_with_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(1, 15):
        base = min(30 * 2 ** (attempt - 1), 6 * 3600)
        wait = next_wait(attempt, rng).total_seconds()
        assert base * 0.5 <= wait <= base


def test_a_delivery_failing_for_three_days_is_given_up(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, _endpoint = gom_endpoint
    receiver.statuses = [503] * 3
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="verified")
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(days=3) + timedelta(seconds=5)
    )
    webhook_deliver(delivery.pk)
    given_up = Delivery.objects.get(pk=delivery.pk)
    assert (given_up.status, given_up.attempt_count, given_up.last_status_code) == (
        "failed",
        2,
        503,
    )
    assert given_up.next_attempt_at is None


def test_410_gone_disables_the_endpoint(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, endpoint = gom_endpoint
    receiver.statuses = [410]
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="rejected", notes="x")
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.disabled_reason) == (
        False,
        "The receiver answered 410 Gone.",
    )
    assert Delivery.objects.get().status == "failed"
    # Nothing more is sent to a disabled endpoint.
    later = SubmissionFactory(group_order=submission.group_order, status="proof_submitted")
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=later, target="rejected", notes="y")
    assert len(receiver.received) == 1
    assert Delivery.objects.count() == 1


def test_during_rotation_both_secrets_sign(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, endpoint = gom_endpoint
    old = endpoint.secrets[0]
    new = webhook_endpoint_rotate_secret(actor=gom, endpoint=endpoint)
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="verified")
    headers, body = receiver.received[0]
    assert len(headers["webhook-signature"].split()) == 2
    assert Webhook(old).verify(body.decode(), headers)["type"] == "submission.verified"
    assert Webhook(new).verify(body.decode(), headers)["type"] == "submission.verified"
    assert AuditEvent.objects.filter(action="webhook.secret_rotated").count() == 1


def test_loopback_and_private_addresses_are_refused_unless_allowed(
    db: None, settings: object
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    gom = StaffFactory()
    for url in (
        "http://127.0.0.1:8000/x",
        "http://10.0.0.5/x",
        "http://localhost/x",
        "ftp://example.com/",
    ):
        with pytest.raises(WebhookError):
            webhook_endpoint_create(actor=gom, owner=gom, url=url, event_types=["refund.paid"])
    assert Endpoint.objects.count() == 0


def test_redeliver_sends_the_same_event_again(
    gom_endpoint: tuple, receiver: Receiver, django_capture_on_commit_callbacks: object
) -> None:
    gom, _endpoint = gom_endpoint
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="verified")
    delivery = Delivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_redeliver(actor=gom, delivery=delivery)
    assert len(receiver.received) == 2
    assert receiver.received[0][0]["webhook-id"] == receiver.received[1][0]["webhook-id"]
    assert Delivery.objects.get().attempt_count == 2


def test_payments_health_degrades_when_webhooks_fail(
    gom_endpoint: tuple,
    receiver: Receiver,
    client: object,
    django_capture_on_commit_callbacks: object,
) -> None:
    gom, _endpoint = gom_endpoint
    receiver.statuses = [500]
    submission = SubmissionFactory(
        group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(actor=gom, submission=submission, target="verified")
    client.force_login(StaffFactory(is_superuser=True))  # type: ignore[attr-defined]
    payments = client.get("/api/health/payments").json()["checks"]["payments"]  # type: ignore[attr-defined]
    assert payments["status"] == "DEGRADED"
    assert payments["details"]["webhook_failure_rate"] == 1.0
    assert payments["reason"] == "webhook failure rate 100% is above 5%"
