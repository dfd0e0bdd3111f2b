"""Build submissions and proofs for the fraud rules without OCR: the rules read rows only."""

import uuid
from datetime import datetime
from typing import Any

from payments.models import Submission, SubmissionStatus
from tests.factories import SubmissionFactory
from verification.models import PaymentProof
from verification.services import review_open

PNG_SIZE = 1234


def submission_at(*, buyer: Any, group_order: Any, created_at: datetime, **fields: Any) -> Any:
    """A submission of ``buyer`` whose creation time is ``created_at``."""
    submission = SubmissionFactory(buyer=buyer, group_order=group_order, **fields)
    Submission.objects.filter(pk=submission.pk).update(created_at=created_at)
    submission.refresh_from_db()
    return submission


def proof_at(
    *,
    buyer: Any,
    group_order: Any,
    created_at: datetime | None = None,
    sha256: str = "",
    reference: str = "",
) -> PaymentProof:
    """A proof in the queue, uploaded by ``buyer`` (on a new submission) at ``created_at``."""
    submission = SubmissionFactory(
        buyer=buyer, group_order=group_order, status=SubmissionStatus.PROOF_SUBMITTED
    )
    proof = PaymentProof.objects.create(
        submission=submission,
        uploaded_by=buyer,
        storage_name=f"{uuid.uuid4().hex}.png",
        original_name="proof.png",
        original_type="image/png",
        content_type="image/png",
        size_bytes=PNG_SIZE,
        sha256=sha256 or uuid.uuid4().hex + uuid.uuid4().hex,
        scan_status="not_scanned",
        analysis_status="done" if reference else "pending",
        provider="gcash" if reference else "",
        reference=reference,
    )
    if created_at is not None:
        PaymentProof.objects.filter(pk=proof.pk).update(created_at=created_at)
        proof.refresh_from_db()
    review_open(proof=proof, submission=submission)
    return proof
