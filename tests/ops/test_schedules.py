"""Every periodic job is declared once (config/celery.py) and lands in the editable schedule."""

import pytest
from celery.schedules import crontab
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app


# The scheduler closes stale connections as beat does, so it needs real transactions.
@pytest.mark.django_db(transaction=True)
def test_beat_copies_every_declared_schedule_into_the_admin_editable_table() -> None:
    DatabaseScheduler(app=app, lazy=False)
    stored = dict(PeriodicTask.objects.values_list("name", "task"))
    for name, entry in app.conf.beat_schedule.items():
        assert stored[name] == entry["task"]
    assert stored["outbox-drain"] == "outbox.drain"
    assert stored["webhooks-deliver-due"] == "webhooks.deliver_due"
    assert stored["verification-purge-expired-proof-files"] == (
        "verification.purge_expired_proof_files"
    )
    assert stored["ops-roll-up-metrics"] == "ops.roll_up_metrics"


def test_every_scheduled_task_exists() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_daily_jobs_each_have_their_own_minute() -> None:
    # Two heavy daily jobs at the same minute would compete for the same two cores.
    daily = [
        (tuple(sorted(entry["schedule"].hour)), tuple(sorted(entry["schedule"].minute)))
        for entry in app.conf.beat_schedule.values()
        if isinstance(entry["schedule"], crontab)
    ]
    assert len(daily) == len(set(daily)) == 6
    assert app.conf.beat_schedule["ops-roll-up-metrics"]["schedule"] == crontab(hour=16, minute=20)
    assert app.conf.beat_schedule["verification-purge-expired-proof-files"]["schedule"] == crontab(
        hour=19, minute=30
    )
