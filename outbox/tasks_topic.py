"""Start a Celery task through the outbox, so a broker outage at commit delays it, never loses it.

An app that may not import another (payments and verification start the fraud checks) names the
task; the name and its arguments are written in the caller's transaction, and delivering the
message enqueues the task. When the broker is down at commit, the message waits for the drain.
"""

from typing import Any

from celery import current_app

from outbox.services import outbox_publish

TOPIC = "celery.task"


def enqueue_task_on_commit(task_name: str, *args: Any) -> None:
    """Enqueue ``task_name(*args)`` once the current transaction commits (arguments: JSON)."""
    outbox_publish(topic=TOPIC, payload={"task": task_name, "args": list(args)})


def deliver_task(payload: dict[str, Any]) -> None:
    """The outbox handler: hand the task to Celery (a broker error leaves it for the drain)."""
    task = current_app.tasks.get(payload["task"])
    if task is None:  # not imported in this process; a worker knows it by name
        current_app.send_task(payload["task"], args=payload["args"])
    else:
        # Through the app's registry, eager mode (no broker: development, tests) runs it here.
        task.delay(*payload["args"])
