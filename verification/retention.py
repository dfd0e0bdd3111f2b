"""Proof retention: a proof's file is deleted a set number of days after its final decision.

The row stays with its hashes, the amounts read and the decision, so duplicate checks, the books
and the audit trail keep working; only the picture of the receipt goes.

Order of work, chosen so that a crash never leaves a file behind a row that says it is gone:
the file is deleted first (outside any transaction: with S3 that is an HTTP call, and no row lock
is held during it), then the row is marked under its lock. A crash between the two leaves an
unmarked row whose file is already gone; the next run picks it up again, the storage's delete of a
missing name is a no-op, and the row is marked then. Two runs at once skip each other's rows.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from verification.models import PaymentProof, PurgeReason, ReviewState
from verification.services import proof_forget_cached_images, proof_storage

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    purged: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cutoff: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "purged": len(self.purged),
            "failed": len(self.failed),
            "failed_ids": self.failed,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }


def proofs_due_for_purge(*, now: datetime, days: int) -> QuerySet[PaymentProof]:
    """Return the proofs with a file whose final decision is at least ``days`` old."""
    cutoff = now - timedelta(days=days)
    # decided_at is set exactly when a review leaves "awaiting" (a check constraint), so the
    # range on the (decided_at, state) index is the whole test; a proof with no decision never
    # matches.
    return (
        PaymentProof.objects.filter(
            file_purged_at__isnull=True,
            review__decided_at__lte=cutoff,
        )
        .exclude(review__state=ReviewState.AWAITING)
        .order_by("review__decided_at", "pk")
    )


def purge_expired_proof_files(
    *, now: datetime | None = None, batch_size: int | None = None
) -> PurgeReport:
    """Delete the files of at most ``batch_size`` proofs past retention and mark them purged."""
    now = now or timezone.now()
    days = settings.PROOF_RETENTION_DAYS
    batch_size = batch_size or settings.PROOF_PURGE_BATCH_SIZE
    report = PurgeReport(cutoff=now - timedelta(days=days))
    candidates = list(
        proofs_due_for_purge(now=now, days=days).values_list("pk", "storage_name", "sha256")[
            :batch_size
        ]
    )
    storage = proof_storage()
    deleted: list[int] = []
    for proof_id, storage_name, _sha256 in candidates:
        try:
            storage.delete(storage_name)
        except Exception:
            # One unreachable file must not stop the batch; it stays unmarked and due.
            logger.exception("retention: could not delete the file of proof %s", proof_id)
            report.failed.append(proof_id)
        else:
            deleted.append(proof_id)
    if deleted:
        report.purged = _mark_purged(deleted, now=now, days=days)
        proof_forget_cached_images([(pk, sha) for pk, _name, sha in candidates if pk in deleted])
    if report.purged or report.failed:
        logger.info("retention: %s", report.as_dict())
    return report


def _mark_purged(proof_ids: list[int], *, now: datetime, days: int) -> list[int]:
    marked: list[int] = []
    with transaction.atomic():
        # skip_locked: a concurrent run (or a decision touching the row) is left alone; the
        # file is already deleted, so the row will be marked by whichever run gets it next.
        locked = (
            PaymentProof.objects.select_for_update(skip_locked=True)
            .filter(pk__in=proof_ids, file_purged_at__isnull=True)
            .order_by("pk")
        )
        for proof in locked:
            proof.file_purged_at = now
            proof.file_purge_reason = PurgeReason.RETENTION
            proof.save(update_fields=["file_purged_at", "file_purge_reason"])
            audit_record(
                actor=None,
                action="proof.file_purged",
                target=proof,
                after={"reason": PurgeReason.RETENTION, "retention_days": days},
            )
            marked.append(proof.pk)
    return marked
