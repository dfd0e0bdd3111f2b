"""Thin Celery tasks of the fraud app, enqueued by name through the outbox (outbox.tasks_topic)."""

from celery import shared_task
from django.db import OperationalError

from fraud.services import fraud_check_proof, fraud_check_submission


@shared_task(
    name="fraud.check_submission",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=5,
    acks_late=True,
)
def check_submission_task(submission_id: int) -> int:
    return len(fraud_check_submission(submission_id=submission_id))


@shared_task(
    name="fraud.check_proof",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=5,
    acks_late=True,
)
def check_proof_task(proof_id: int) -> int:
    return len(fraud_check_proof(proof_id=proof_id))
