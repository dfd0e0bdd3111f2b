"""Thin Celery tasks of the verification app."""

from celery import shared_task
from django.db import OperationalError

from verification.services import proof_analyze


@shared_task(
    bind=True,
    # A database blip or a storage hiccup is worth a few retries; OCR failures are not (the
    # service records them as failed/unavailable and the GOM reviews by hand).
    autoretry_for=(OperationalError, ConnectionError, TimeoutError),
    max_retries=3,
    retry_backoff=5,
    retry_backoff_max=60,
    soft_time_limit=40,
    time_limit=60,
    acks_late=True,
)
def analyze_proof_task(self: object, proof_id: int) -> str:
    return proof_analyze(proof_id=proof_id).analysis_status
