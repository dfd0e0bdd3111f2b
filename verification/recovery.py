"""Give up on a proof whose analysis never finished, so it goes to manual review."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from verification.models import AnalysisStatus, PaymentProof


def proof_analysis_give_up(*, actor: Any, proof: PaymentProof, reason: str) -> PaymentProof:
    """Mark a still-pending analysis unavailable with the reason; done or failed ones stay."""
    with transaction.atomic():
        locked = PaymentProof.objects.select_for_update().get(pk=proof.pk)
        if locked.analysis_status != AnalysisStatus.PENDING:
            return locked
        locked.analysis_status = AnalysisStatus.UNAVAILABLE
        locked.analysis_reason = reason
        locked.analyzed_at = timezone.now()
        locked.save(update_fields=["analysis_status", "analysis_reason", "analyzed_at"])
        audit_record(
            actor=actor, action="proof.analysis_given_up", target=locked, after={"reason": reason}
        )
    return locked
