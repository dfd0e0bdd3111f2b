"""The Celery application; every periodic schedule is declared here."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gomflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The triple match's auto-approval task and its hook after proof analysis.
app.conf.imports = ("verification.triple_match",)

app.conf.beat_schedule = {
    # Store credit past its date leaves the wallets once a day (Manila and KL are UTC+8).
    "wallet-expire-credits": {
        "task": "wallet.expire_credits",
        "schedule": crontab(hour=16, minute=5),
    },
    # Sends what the broker never carried (it was down) and retries what failed.
    "outbox-drain": {"task": "outbox.drain", "schedule": 30.0},
    "ops-recover-stuck": {"task": "ops.recover_stuck", "schedule": 600.0},
    "webhooks-deliver-due": {"task": "webhooks.deliver_due", "schedule": 30.0},
    # Reconcile every provider account with imported statements, after the banks' cut-off.
    "payments-reconcile-all": {
        "task": "payments.reconcile_all",
        "schedule": crontab(hour=18, minute=30),
    },
    # Uploads previewed but never confirmed are not kept.
    "payments-purge-statement-previews": {
        "task": "payments.purge_statement_previews",
        "schedule": crontab(hour=19, minute=0),
    },
    # Proof files past retention (PROOF_RETENTION_DAYS after the decision), in a quiet hour:
    # 19:30 UTC is 03:30 in Manila and Kuala Lumpur.
    "verification-purge-expired-proof-files": {
        "task": "verification.purge_expired_proof_files",
        "schedule": crontab(hour=19, minute=30),
    },
    # Yesterday's figures per currency, just after midnight in Manila and KL (16:20 UTC).
    "ops-roll-up-metrics": {
        "task": "ops.roll_up_metrics",
        "schedule": crontab(hour=16, minute=20),
    },
    "payments-purge-idempotency-keys": {
        "task": "payments.purge_idempotency_keys",
        "schedule": crontab(hour=17, minute=0),
    },
}
