"""Publish a message with the current transaction; deliver it (once) after commit."""

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from outbox.models import Message
from outbox.registry import handler_for

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
# Messages one task delivers when many were published together.
DELIVERY_BATCH = 50


def outbox_publish(*, topic: str, payload: dict[str, Any], key: str = "") -> Message:
    """Write a message in the current transaction and try to send it right after commit.

    If the broker is down at that moment the message simply waits for the drain task.
    """
    return outbox_publish_many(topic=topic, payloads=[payload], keys=[key])[0]


def outbox_publish_many(
    *, topic: str, payloads: Sequence[dict[str, Any]], keys: Sequence[str] = ()
) -> list[Message]:
    """``outbox_publish`` for many messages of one topic, written in one statement."""
    keys = list(keys) or [""] * len(payloads)
    messages = Message.objects.bulk_create(
        Message(topic=topic, payload=payload, key=key or uuid.uuid4().hex)
        for payload, key in zip(payloads, keys, strict=True)
    )
    message_ids = [message.pk for message in messages]

    def enqueue() -> None:
        from outbox.tasks import deliver_message, deliver_messages

        if len(message_ids) == 1:
            deliver_message.delay(message_ids[0])
            return
        # A bulk decision's thousand e-mails: a few tasks, not a broker round trip each.
        for start in range(0, len(message_ids), DELIVERY_BATCH):
            deliver_messages.delay(message_ids[start : start + DELIVERY_BATCH])

    # robust: a broker outage after commit must not turn a committed change into an error.
    transaction.on_commit(enqueue, robust=True)
    return messages


def publish_once(*, topic: str, payload: dict[str, Any], key: str) -> bool:
    """Publish unless a message with ``key`` exists already; return whether it was published.

    For reminders and alerts that must go out once per period: the key says which period.
    """
    if Message.objects.filter(key=key).exists():
        return False
    try:
        with transaction.atomic():
            outbox_publish(topic=topic, payload=payload, key=key)
    except IntegrityError:
        return False  # a concurrent run published it first
    return True


def _claim(message_id: int) -> Message | None:
    """Take a message for this worker unless it is delivered or claimed by another."""
    now = timezone.now()
    claimed = Message.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=message_id,
        delivered_at__isnull=True,
    ).update(claimed_until=now + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS))
    return Message.objects.get(pk=message_id) if claimed else None


def outbox_deliver(message_id: int) -> bool:
    """Deliver one message with its topic's handler; return whether it was delivered now.

    The claim is a single UPDATE, not a held lock: the handler (an e-mail, an HTTP call) runs
    with no lock held. A worker killed mid-way leaves a claim that lapses, and the drain
    retries: delivery is at least once, and exactly once unless a worker dies after the
    handler but before the mark below.
    """
    message = _claim(message_id)
    if message is None:
        return False
    try:
        handler_for(message.topic)(message.payload)
    except Exception as error:
        Message.objects.filter(pk=message.pk).update(
            attempts=message.attempts + 1,
            last_error=f"{type(error).__name__}: {error}"[:2000],
            claimed_until=None,
        )
        logger.warning("outbox message %s failed: %s", message.pk, error)
        raise
    Message.objects.filter(pk=message.pk).update(
        delivered_at=timezone.now(),
        attempts=message.attempts + 1,
        claimed_until=None,
        last_error="",
    )
    return True


def outbox_pending(*, older_than_seconds: int = 10, limit: int = 500) -> list[int]:
    """Return ids of messages still to deliver (not claimed, not given up on)."""
    now = timezone.now()
    return list(
        Message.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            delivered_at__isnull=True,
            attempts__lt=MAX_ATTEMPTS,
            created_at__lt=now - timedelta(seconds=older_than_seconds),
        ).values_list("pk", flat=True)[:limit]
    )
