from celery import shared_task

from ops.recovery import recover_stuck


@shared_task(name="ops.recover_stuck", acks_late=True)
def recover_stuck_task() -> dict[str, object]:
    """Find and move on what is stuck; the report is the task's result (and a log line)."""
    return recover_stuck().as_dict()
