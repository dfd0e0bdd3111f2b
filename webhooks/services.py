"""Emit events into deliveries (in the caller's transaction) and deliver them, signed, with retries.

Deliveries are their own outbox: they are written with the change they announce, so a broker
outage delays a webhook and never loses it. Each is signed the Standard Webhooks way, retried
with exponential backoff and jitter for about three days, and stops for good on HTTP 410.
"""

import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.webhook_signing import delivery_headers, generate_secret
from webhooks.destinations import UnsafeDestination, check_destination
from webhooks.models import Attempt, Delivery, Endpoint, EventType

GIVE_UP_AFTER = timedelta(days=3)
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT = timedelta(hours=6)
TIMEOUT_SECONDS = 10
CLAIM_SECONDS = 60


class WebhookError(Exception):
    """A webhook configuration was refused; the message says why."""


def webhook_endpoint_create(
    *, actor: Any, owner: Any, url: str, event_types: list[str], description: str = ""
) -> Endpoint:
    """Register an endpoint for a GOM (or, by a superuser with no owner, for all GOMs)."""
    unknown = sorted(set(event_types) - set(EventType.values))
    if not event_types or unknown:
        raise WebhookError(f"Choose events among {', '.join(EventType.values)}.")
    if owner is None and not getattr(actor, "is_superuser", False):
        raise WebhookError("Only a superuser may listen to every GOM's events.")
    try:
        check_destination(url)
    except UnsafeDestination as error:
        raise WebhookError(str(error)) from error
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            owner=owner,
            url=url,
            event_types=sorted(set(event_types)),
            description=description,
            secrets=[generate_secret()],
        )
        audit_record(
            actor=actor,
            action="webhook.endpoint_created",
            target=endpoint,
            after={"url": url, "events": endpoint.event_types},
        )
    return endpoint


def webhook_endpoint_rotate_secret(*, actor: Any, endpoint: Endpoint) -> str:
    """Add a new secret in front; both sign until ``webhook_endpoint_drop_old_secrets``."""
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        secret = generate_secret()
        locked.secrets = [secret, *locked.secrets][:2]
        locked.save(update_fields=["secrets"])
        audit_record(actor=actor, action="webhook.secret_rotated", target=locked)
    return secret


def webhook_endpoint_drop_old_secrets(*, actor: Any, endpoint: Endpoint) -> None:
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.secrets = locked.secrets[:1]
        locked.save(update_fields=["secrets"])
        audit_record(actor=actor, action="webhook.old_secrets_dropped", target=locked)


def webhook_emit(
    *, owner_id: int, event_type: str, data: Callable[[], dict[str, Any]]
) -> list[Delivery]:
    """Create one delivery per interested endpoint, in the caller's transaction.

    ``data`` is called only when someone listens, so a GOM without webhooks pays one query.
    """
    return webhook_emit_many(owner_id=owner_id, event_type=event_type, datas=[data])


def webhook_emit_many(
    *, owner_id: int, event_type: str, datas: Sequence[Callable[[], dict[str, Any]]]
) -> list[Delivery]:
    """``webhook_emit`` for many events of one type and owner (a batch of decisions).

    One query finds the endpoints; each event gets its own id; the deliveries are written in
    one statement and queued after commit.
    """
    endpoints = [
        endpoint
        for endpoint in Endpoint.objects.filter(
            Q(owner_id=owner_id) | Q(owner__isnull=True), is_active=True
        )
        if event_type in endpoint.event_types
    ]
    if not endpoints or not datas:
        return []
    deliveries = []
    for data in datas:
        event_id = f"msg_{uuid.uuid4().hex}"
        payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data()}
        deliveries += [
            Delivery(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=timezone.now(),
            )
            for endpoint in endpoints
        ]
    Delivery.objects.bulk_create(deliveries)
    ids = [delivery.pk for delivery in deliveries]

    def enqueue() -> None:
        from webhooks.tasks import deliver_webhook

        for delivery_id in ids:
            deliver_webhook.delay(delivery_id)

    transaction.on_commit(enqueue, robust=True)
    return deliveries


def next_wait(attempt_count: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``attempt_count``-th failure: doubling, capped, with jitter."""
    base = timedelta(seconds=FIRST_RETRY_SECONDS * 2 ** (attempt_count - 1))
    capped = min(base, LONGEST_WAIT)
    # Full jitter on the upper half keeps a crowd of retries from arriving together.
    share = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=capped.total_seconds() * share)


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    taken = Delivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id,
        status=Delivery.Status.PENDING,
    ).update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    if not taken:
        return None
    return Delivery.objects.select_related("endpoint").get(pk=delivery_id)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def webhook_deliver(delivery_id: int, *, now: datetime | None = None) -> str | None:
    """Try one delivery now; record the attempt and what comes next. Return the new status.

    No row lock is held during the HTTP call: the delivery is claimed by a single UPDATE.
    """
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GOMFlow-Webhooks/1",
        **delivery_headers(secrets=endpoint.secrets, message_id=delivery.event_id, body=body),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    if not endpoint.is_active:
        error = "endpoint disabled"
    else:
        try:
            check_destination(endpoint.url)
            status_code = _post(endpoint.url, body, headers)
        except (UnsafeDestination, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
    duration_ms = round((time.monotonic() - started) * 1000)
    return _record_attempt(delivery, status_code, error, duration_ms, now or timezone.now())


def _record_attempt(
    delivery: Delivery, status_code: int | None, error: str, duration_ms: int, now: datetime
) -> str:
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        Attempt.objects.create(
            delivery=locked, status_code=status_code, duration_ms=duration_ms, error=error
        )
        locked.attempt_count += 1
        locked.last_status_code = status_code
        locked.claimed_until = None
        if status_code is not None and 200 <= status_code < 300:
            locked.status = Delivery.Status.SUCCEEDED
            locked.finished_at = now
            locked.next_attempt_at = None
        elif status_code == 410 or error == "endpoint disabled":
            locked.status = Delivery.Status.FAILED
            locked.finished_at = now
            locked.next_attempt_at = None
            if status_code == 410:
                # The receiver says this URL is gone: stop sending anything there.
                Endpoint.objects.filter(pk=locked.endpoint_id).update(
                    is_active=False, disabled_reason="The receiver answered 410 Gone."
                )
        else:
            wait = next_wait(locked.attempt_count)
            if now + wait - locked.created_at > GIVE_UP_AFTER:
                locked.status = Delivery.Status.FAILED
                locked.finished_at = now
                locked.next_attempt_at = None
            else:
                locked.next_attempt_at = now + wait
        locked.save(
            update_fields=[
                "attempt_count",
                "last_status_code",
                "claimed_until",
                "status",
                "finished_at",
                "next_attempt_at",
            ]
        )
    return locked.status


def webhook_redeliver(*, actor: Any, delivery: Delivery) -> Delivery:
    """Queue a finished or failed delivery again (same webhook-id), from the admin."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        locked.status = Delivery.Status.PENDING
        locked.next_attempt_at = timezone.now()
        locked.finished_at = None
        locked.claimed_until = None
        locked.save(update_fields=["status", "next_attempt_at", "finished_at", "claimed_until"])
        audit_record(actor=actor, action="webhook.redelivered", target=locked)

        def enqueue() -> None:
            from webhooks.tasks import deliver_webhook

            deliver_webhook.delay(locked.pk)

        transaction.on_commit(enqueue, robust=True)
    return locked


def webhook_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Return the deliveries whose next attempt is due."""
    moment = now or timezone.now()
    return list(
        Delivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment),
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=moment,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_failure_rate(*, since: datetime) -> float | None:
    """Share of delivery attempts since ``since`` that failed, for health and alerts."""
    attempts = Attempt.objects.filter(attempted_at__gte=since)
    total = attempts.count()
    if not total:
        return None
    succeeded = attempts.filter(status_code__gte=200, status_code__lt=300).count()
    return round((total - succeeded) / total, 4)
