"""Thin Celery tasks of the verification app."""

from celery import shared_task
from django.db import OperationalError

from verification.retention import purge_expired_proof_files
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


@shared_task(
    name="verification.purge_expired_proof_files",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=30,
    acks_late=True,
)
def purge_expired_proof_files_task() -> dict[str, object]:
    """Delete the files of proofs past retention, one bounded batch a run (daily in beat)."""
    return purge_expired_proof_files().as_dict()
