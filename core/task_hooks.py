"""Enqueue a Celery task by its name after commit, for an app the caller may not import.

Dependencies run one way (``fraud → verification → payments``), yet payments and verification must
start the fraud checks. By name there is no import; through the app's task registry, eager mode
(development without a broker, tests) still runs the task in-process, which ``send_task`` would not.
"""

import logging
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """After the current transaction commits, enqueue ``task_name`` with ``args`` (primary keys)."""

    def enqueue() -> None:
        task = current_app.tasks.get(task_name)
        if task is None:  # not imported in this process; a worker knows it by name
            current_app.send_task(task_name, args=args)
        else:
            task.delay(*args)

    # robust: a broker outage must not turn the committed change into an error for the buyer.
    transaction.on_commit(enqueue, robust=True)
