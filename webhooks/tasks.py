from celery import shared_task

from webhooks.services import webhook_deliver, webhook_due


@shared_task(name="webhooks.deliver", acks_late=True)
def deliver_webhook(delivery_id: int) -> str | None:
    """Try one delivery; the schedule of retries lives on the delivery row, not in Celery."""
    return webhook_deliver(delivery_id)


@shared_task(name="webhooks.deliver_due")
def deliver_due() -> int:
    """Send every delivery whose next attempt is due (scheduled every 30 s)."""
    due = webhook_due()
    for delivery_id in due:
        webhook_deliver(delivery_id)
    return len(due)
