from collections.abc import Iterable

from celery import shared_task

from outbox.services import outbox_deliver, outbox_pending


@shared_task(
    name="outbox.deliver",
    autoretry_for=(Exception,),
    max_retries=5,
    retry_backoff=True,
    retry_jitter=True,
)
def deliver_message(message_id: int) -> bool:
    """Deliver one outbox message (retried with backoff; the drain catches what is left)."""
    return outbox_deliver(message_id)


@shared_task(name="outbox.deliver_many")
def deliver_messages(message_ids: list[int]) -> int:
    """Deliver messages published together (a bulk decision): one task, not one per message."""
    return _deliver_each(message_ids)


@shared_task(name="outbox.drain")
def drain() -> int:
    """Deliver what the broker never carried (it was down) or what failed; scheduled often."""
    return _deliver_each(outbox_pending())


def _deliver_each(message_ids: Iterable[int]) -> int:
    delivered = 0
    for message_id in message_ids:
        try:
            delivered += outbox_deliver(message_id)
        except Exception:  # noqa: S112 - recorded on the message; the next drain retries it
            continue
    return delivered
