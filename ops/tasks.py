from celery import shared_task

from ops.recovery import recover_stuck
from ops.rollup import metrics_roll_up_recent


@shared_task(name="ops.recover_stuck", acks_late=True)
def recover_stuck_task() -> dict[str, object]:
    """Find and move on what is stuck; the report is the task's result (and a log line)."""
    return recover_stuck().as_dict()


@shared_task(name="ops.roll_up_metrics", acks_late=True)
def roll_up_metrics_task() -> list[str]:
    """Write the daily metrics of the last finished business days (idempotent)."""
    return [day.isoformat() for day in metrics_roll_up_recent()]
