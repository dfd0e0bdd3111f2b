"""Build queue rows fast: a submission awaiting a decision with a stored proof and its review.

The real intake (``proof_submit``) runs OCR after commit; these tests are about what happens
after the agent, so they store a small PNG and write the agent's reading directly.
"""

import io
import uuid
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from payments.models import Submission, SubmissionStatus
from tests.factories import PaymentMethodFactory, SubmissionFactory
from verification.models import PaymentProof, ProofReview
from verification.services import proof_storage, review_copy_reading, review_open

_PNG: bytes | None = None


def png_bytes() -> bytes:
    global _PNG
    if _PNG is None:
        buffer = io.BytesIO()
        Image.new("RGB", (120, 200), "white").save(buffer, "PNG")
        _PNG = buffer.getvalue()
    return _PNG


def queued(
    *,
    group_order: Any,
    buyer: Any = None,
    amount_due_minor: int = 125_000,
    amount_read_minor: int | None = 125_000,
    reference: str = "",
    flags: list[dict[str, Any]] | None = None,
    confidence: str | None = "0.900",
    suggestion: str = "approve",
    buyer_name: str = "",
    store_file: bool = True,
    method: Any = None,
) -> Submission:
    """Return a submission in ``proof_submitted`` with one analysed proof awaiting a decision."""
    extra: dict[str, Any] = {}
    if buyer is not None:
        extra["buyer"] = buyer
    if buyer_name:
        extra["buyer_name"] = buyer_name
    if method is None:
        method = PaymentMethodFactory(owner=group_order.owner)
    submission = SubmissionFactory(
        group_order=group_order,
        amount_due_minor=amount_due_minor,
        payment_method=method,
        status=SubmissionStatus.PROOF_SUBMITTED,
        **extra,
    )
    name = f"{uuid.uuid4().hex}.png"
    if store_file:
        name = proof_storage().save(name, ContentFile(png_bytes()))
    queue_proof(
        submission,
        storage_name=name,
        reference=reference or uuid.uuid4().hex[:13].upper(),
        amount_read_minor=amount_read_minor,
        confidence=confidence,
        suggestion=suggestion,
        flags=flags,
    )
    return submission


def queue_proof(
    submission: Submission,
    *,
    reference: str,
    amount_read_minor: int | None,
    storage_name: str = "",
    confidence: str | None = "0.900",
    suggestion: str = "",
    flags: list[dict[str, Any]] | None = None,
) -> PaymentProof:
    """Store an analysed proof of ``submission`` and put it in the queue (review_open), where it
    takes the place of an older one awaiting a decision."""
    proof = PaymentProof.objects.create(
        submission=submission,
        uploaded_by=submission.buyer,
        storage_name=storage_name or f"{uuid.uuid4().hex}.png",
        original_name="proof.png",
        original_type="image/png",
        content_type="image/png",
        size_bytes=len(png_bytes()),
        sha256=uuid.uuid4().hex + uuid.uuid4().hex,
        scan_status="not_scanned",
        analysis_status="done",
        provider="gcash",
        reference=reference,
        amount_minor=amount_read_minor,
        currency=submission.currency,
        paid_at=timezone.now(),
        confidence=Decimal(confidence) if confidence is not None else None,
        suggestion=suggestion,
        flags=flags or [],
    )
    review_open(proof=proof, submission=submission)
    review_copy_reading(proof)
    return proof


def review_of(submission: Submission) -> ProofReview:
    return ProofReview.objects.filter(submission=submission).latest("queued_at")


def make_verifier(personas: Any) -> Any:
    """An assistant (GOM group) granted verify rights on the owner's order."""
    from django.contrib.auth.models import Group

    from accounts.roles import GOM_GROUP
    from payments.services import grouporder_grant_access
    from tests.factories import StaffFactory

    user = StaffFactory(email="verifier@example.test", full_name="Vera Verifier")
    user.groups.add(Group.objects.get(name=GOM_GROUP))
    grouporder_grant_access(
        actor=personas.owner, group_order=personas.order, assistant=user, level="verify"
    )
    return user
