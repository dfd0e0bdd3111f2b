"""Every write of the verification app: taking in a proof, recording what the agent read, views."""

import logging
from datetime import timedelta
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.money import percent_of
from outbox.tasks_topic import enqueue_task_on_commit
from payments.models import PaymentTiming, Submission, SubmissionStatus
from payments.notifications import notify_buyer_on_commit
from payments.services import submission_transition
from verification import agent, queue_events
from verification.agent.providers import BY_SLUG, BY_TEMPLATE
from verification.agent.score import Expectation, assess
from verification.exceptions import ProofRejected
from verification.intake import prepare_upload
from verification.models import (
    AnalysisStatus,
    PaymentProof,
    ProofReview,
    PurgeReason,
    ReviewState,
)

logger = logging.getLogger(__name__)
# Serialise duplicate-reference checks per provider+reference (see proof_analyze). Only the
# concurrency test turns it off, to show the race it prevents.
SERIALIZE_DUPLICATE_CHECKS = True

# A proof can be added while payment is awaited, after a rejection, or for the rest of a
# partial payment; each moves the submission to proof_submitted.
ACCEPTS_PROOF = (
    SubmissionStatus.PENDING_PAYMENT,
    SubmissionStatus.REJECTED,
    SubmissionStatus.PARTIALLY_PAID,
)


def proof_storage() -> Any:
    return storages["proofs"]


def proof_thumbnail_cache_key(proof_id: int, sha256: str) -> str:
    # The hash in the key: a stored proof never changes, so a cached thumbnail never goes stale.
    return f"proof-thumbnail:{proof_id}:{sha256}"


def proof_forget_cached_images(proofs: list[tuple[int, str]]) -> None:
    """Drop the cached thumbnails of proofs whose files were deleted (pairs of id and SHA-256)."""
    cache.delete_many([proof_thumbnail_cache_key(pk, sha256) for pk, sha256 in proofs])


def _check_rate(actor: Any) -> None:
    limit = settings.PROOF_UPLOAD_RATE_LIMIT
    window = settings.PROOF_UPLOAD_RATE_WINDOW_SECONDS
    # A fixed window per buyer: add() starts it, incr() counts atomically in Redis.
    key = f"proof-upload-rate:{actor.pk}:{int(timezone.now().timestamp()) // window}"
    cache.add(key, 0, timeout=window)
    try:
        attempts = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window)
        attempts = 1
    if attempts > limit:
        raise ProofRejected(
            "rate_limited",
            "Too many uploads in a short time; wait a few minutes and try again.",
            http_status=429,
        )


def _read_upload(upload: IO[bytes]) -> bytes:
    # Read one byte past the limit and no further: enough to tell "too large" without buffering
    # whatever a client chose to send.
    limit = settings.PROOF_MAX_BYTES
    upload.seek(0)
    return upload.read(limit + 1)


def proof_submit(
    *, actor: Any, submission: Submission, upload: IO[bytes], original_name: str
) -> PaymentProof:
    """Check, store (encrypted) and attach a buyer's proof; move the submission to review.

    Raises ProofRejected with a code and a message; then no row, no file and no state change
    remain. The OCR runs after commit in a task.
    """
    if actor.pk != submission.buyer_id:
        raise ProofRejected("not_allowed", "Only the buyer can upload a proof.", http_status=403)
    _check_rate(actor)
    if submission.status not in ACCEPTS_PROOF:
        raise ProofRejected(
            "not_accepting_proofs",
            "This order does not take a proof now (it is "
            f"{submission.get_status_display().lower()}).",
            http_status=409,
        )
    prepared = prepare_upload(_read_upload(upload), original_name=original_name)
    # The slow part (writing the file) happens before the transaction; if the transaction
    # fails, the file is removed again, so a refusal leaves nothing behind.
    storage = proof_storage()
    storage_name = storage.save(prepared.storage_name(), ContentFile(prepared.data))
    try:
        with transaction.atomic():
            locked = Submission.objects.select_for_update().get(pk=submission.pk)
            if locked.status not in ACCEPTS_PROOF:
                raise ProofRejected(
                    "not_accepting_proofs",
                    "This order changed meanwhile and does not take a proof now.",
                    http_status=409,
                )
            proof = PaymentProof.objects.create(
                submission=locked,
                uploaded_by=actor,
                storage_name=storage_name,
                original_name=prepared.original_name,
                original_type=prepared.original_type,
                content_type=prepared.content_type,
                size_bytes=prepared.size_bytes,
                sha256=prepared.sha256,
                perceptual_hash=prepared.perceptual_hash,
                width=prepared.width,
                height=prepared.height,
                scan_status=prepared.scan_status,
            )
            submission_transition(
                actor=actor, submission=locked, target=SubmissionStatus.PROOF_SUBMITTED
            )
            review_open(proof=proof, submission=locked)
            audit_record(
                actor=actor,
                action="proof.uploaded",
                target=proof,
                after={
                    "submission": locked.code,
                    "sha256": prepared.sha256,
                    "type": prepared.original_type,
                    "size_bytes": prepared.size_bytes,
                    "scan": prepared.scan_status,
                },
            )
            # Imported here: the tasks module imports this one.
            from verification.tasks import analyze_proof_task

            proof_id = proof.pk
            # robust: a broker outage must not turn a stored, committed upload into an error
            # page; the proof then waits as "pending" and the GOM reviews it by hand.
            transaction.on_commit(lambda: analyze_proof_task.delay(proof_id), robust=True)
            enqueue_task_on_commit("fraud.check_proof", proof_id)  # a flag, never a block
            notify_buyer_on_commit("proof_received", locked.pk)
    except BaseException:
        storage.delete(storage_name)
        raise
    return proof


def proof_read_bytes(proof: PaymentProof) -> bytes:
    """Return the decrypted bytes of a stored proof."""
    with proof_storage().open(proof.storage_name) as stored:
        return stored.read()


def proof_record_view(*, actor: Any, proof: PaymentProof) -> None:
    """Write the audit event of someone looking at a proof."""
    audit_record(
        actor=actor,
        action="proof.viewed",
        target=proof,
        after={"submission": proof.submission.code},
    )


def expected_amounts(submission: Submission) -> tuple[int, ...]:
    """What a proof for this submission may show: the amount due, or the deposit/installment."""
    due = submission.amount_due_minor
    order = submission.group_order
    amounts = {due}
    if order.payment_timing == PaymentTiming.DEPOSIT and order.deposit_percent:
        deposit = percent_of(due, order.deposit_percent * 100)
        amounts |= {deposit, due - deposit}
    elif order.payment_timing == PaymentTiming.INSTALLMENTS and order.installment_count:
        part, remainder = divmod(due, order.installment_count)
        amounts |= {part, part + remainder}
    return tuple(sorted(amounts))


def _duplicates(proof: PaymentProof, provider: str, reference: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    same_file = (
        PaymentProof.objects.filter(sha256=proof.sha256)
        .exclude(submission_id=proof.submission_id)
        .select_related("submission")
        .order_by("created_at", "id")
        .first()
    )
    if same_file is not None:
        found.append(_duplicate_flag("duplicate_file", same_file))
    if reference:
        same_reference = (
            PaymentProof.objects.filter(provider=provider, reference=reference)
            .exclude(submission_id=proof.submission_id)
            .select_related("submission")
            .order_by("created_at", "id")
            .first()
        )
        if same_reference is not None:
            found.append(_duplicate_flag("duplicate_reference", same_reference))
    return found


def _duplicate_flag(code: str, other: PaymentProof) -> dict[str, object]:
    return {
        "code": code,
        "proof": other.pk,
        "submission": other.submission_id,
        "submission_code": other.submission.code,
    }


def _similar_image_hints(proof: PaymentProof) -> list[dict[str, object]]:
    # dHash distance ≤ 4 of 64 bits: a weak hint only, never a flag; receipts of one app are
    # measured about 2 bits apart.
    if not proof.perceptual_hash:
        return []
    mine = int(proof.perceptual_hash, 16)
    recent = (
        PaymentProof.objects.exclude(submission_id=proof.submission_id)
        .exclude(perceptual_hash="")
        .filter(created_at__gte=timezone.now() - timedelta(days=90))
        .values_list("pk", "perceptual_hash")[:2000]
    )
    return [
        {"code": "similar_image", "proof": pk, "distance": (mine ^ int(other, 16)).bit_count()}
        for pk, other in recent
        if (mine ^ int(other, 16)).bit_count() <= 4
    ][:5]


def proof_analyze(*, proof_id: int) -> PaymentProof:
    """Run the smart agent on a proof and record its reading, flags and suggestion.

    OCR runs with no lock held; the result is written under a lock on the proof, and a proof
    that is no longer pending (a retry, a double delivery) is returned unchanged. Tesseract
    missing → status "unavailable"; any other failure → "failed"; the GOM is never blocked.
    """
    proof = PaymentProof.objects.select_related(
        "submission", "submission__group_order", "submission__payment_method"
    ).get(pk=proof_id)
    if proof.analysis_status != AnalysisStatus.PENDING:
        return proof
    submission = proof.submission
    method = submission.payment_method
    hint = (
        BY_TEMPLATE.get(method.template_code).slug
        if method and method.template_code in BY_TEMPLATE
        else ""
    )
    status, reason, reading = AnalysisStatus.DONE, "", None
    try:
        if proof.is_file_purged:
            # Erased before the agent got to it: there is nothing left to read.
            raise agent.OcrUnavailable(proof.purge_notice)
        reading = agent.read_proof(
            proof_read_bytes(proof),
            proof.content_type,
            time_limit_seconds=settings.PROOF_AGENT_TIME_LIMIT_SECONDS,
            hint_provider=hint,
        )
    except agent.OcrUnavailable as error:
        status, reason = AnalysisStatus.UNAVAILABLE, str(error)
        logger.warning("proof %s not analysed: %s", proof_id, error)
    except agent.OcrFailed as error:
        status, reason = AnalysisStatus.FAILED, str(error)
        logger.warning("proof %s analysis failed: %s", proof_id, error)
    with transaction.atomic():
        locked = PaymentProof.objects.select_for_update().get(pk=proof_id)
        if locked.analysis_status != AnalysisStatus.PENDING:
            return locked
        if reading is not None and locked.file_purge_reason == PurgeReason.ERASURE:
            # The buyer was erased while the agent read the picture (no lock is held then):
            # keep nothing read off it.
            status, reason, reading = AnalysisStatus.UNAVAILABLE, locked.purge_notice, None
        locked.analysis_status = status
        locked.analysis_reason = reason
        locked.analyzed_at = timezone.now()
        update_fields = ["analysis_status", "analysis_reason", "analyzed_at"]
        if reading is not None:
            if (
                SERIALIZE_DUPLICATE_CHECKS
                and reading.reference
                and connection.vendor == "postgresql"
            ):
                # Two proofs with one reference analysed at once must see each other: serialise
                # the duplicate check per provider+reference for the rest of this transaction.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        [f"proof-ref:{reading.provider}:{reading.reference}"],
                    )
            duplicates = _duplicates(locked, reading.provider, reading.reference)
            expectation = Expectation(
                amounts_minor=expected_amounts(submission),
                currency=submission.currency,
                not_before=submission.created_at,
                account_name=method.account_name if method else "",
                account_number=method.account_number if method else "",
            )
            assessment = assess(
                reading,
                expectation,
                duplicates=duplicates,
                threshold=settings.PROOF_AGENT_APPROVE_THRESHOLD,
            )
            locked.provider = reading.provider
            locked.reference = reading.reference[:64]
            locked.amount_minor = reading.amount_minor
            locked.currency = reading.currency
            locked.paid_at = reading.paid_at
            locked.recipient = (reading.recipient or reading.recipient_number)[:120]
            locked.raw_text = reading.raw_text
            locked.confidence = Decimal(str(assessment.confidence))
            locked.suggestion = assessment.suggestion
            locked.flags = assessment.flags
            locked.hints = _similar_image_hints(locked)
            locked.duplicate_of_id = next(
                (flag["proof"] for flag in duplicates if "proof" in flag), None
            )
            update_fields += [
                "provider",
                "reference",
                "amount_minor",
                "currency",
                "paid_at",
                "recipient",
                "raw_text",
                "confidence",
                "suggestion",
                "flags",
                "hints",
                "duplicate_of",
            ]
        else:
            locked.suggestion = "review"
            locked.flags = [{"code": "unreadable"}]
            update_fields += ["suggestion", "flags"]
        locked.save(update_fields=update_fields)
        review_copy_reading(locked)
        audit_record(
            actor=None,
            action="proof.analyzed",
            target=locked,
            after={
                "status": status,
                "reason": reason,
                "provider": locked.provider,
                "reference": locked.reference,
                "amount_minor": locked.amount_minor,
                "confidence": float(locked.confidence) if locked.confidence is not None else None,
                "suggestion": locked.suggestion,
                "flags": [flag["code"] for flag in locked.flags],
            },
        )
        # Again now that the reference is known (the shared-reference rule needs it).
        enqueue_task_on_commit("fraud.check_proof", proof_id)
    return locked


def review_open(*, proof: PaymentProof, submission: Submission) -> ProofReview:
    """Put a new proof in the verification queue (inside the transaction that stores it)."""
    method = submission.payment_method
    # An older proof whose submission left review without a decision here (it was moved by
    # hand, or paid otherwise) gives its place in the queue to this one.
    ProofReview.objects.filter(submission=submission, state=ReviewState.AWAITING).update(
        state=ReviewState.SUPERSEDED, decided_at=timezone.now()
    )
    review = ProofReview.objects.create(
        proof=proof,
        submission=submission,
        group_order_id=submission.group_order_id,
        queued_at=proof.created_at,
        submission_code=submission.code,
        buyer_name=submission.buyer_name[:150],
        buyer_email=submission.buyer.email[:254],
        method_type=method.method_type if method else "",
        currency=submission.currency,
    )
    transaction.on_commit(queue_events.publish)
    return review


def review_copy_reading(proof: PaymentProof) -> None:
    """Copy what the agent read onto the proof's queue row (same transaction as the reading)."""
    ProofReview.objects.filter(pk=proof.pk).update(
        reference=proof.reference,
        confidence=proof.confidence,
        suggestion=proof.suggestion,
        flags=sorted({flag["code"] for flag in proof.flags or []}),
    )


def review_set_fraud_hits(*, submission_id: int, hits: list[dict[str, str]]) -> int:
    """Show a submission's fraud check hits on its queue rows (in the caller's transaction).

    Hits are only ever added (their log is insert-only), so an empty list changes nothing.
    """
    if not hits:
        return 0
    return (
        ProofReview.objects.filter(submission_id=submission_id)
        .filter(~Q(fraud_hits=hits) | Q(fraud_hits__isnull=True))
        .update(fraud_hits=hits)
    )


def provider_name(slug: str) -> str:
    provider = BY_SLUG.get(slug)
    return provider.name if provider else ""
