"""The fraud rules: one function each, reading only, returning what they found (``Hit``s).

Each rule judges one new submission or proof against what came before it, so running a check
again later finds the same thing (a later upload never turns an earlier proof into a hit: the
first one is usually the genuine receipt that someone copied).
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from fraud.models import Rule
from payments.models import Submission
from verification.models import PaymentProof, normalize_reference, normalized_reference

WINDOW = timedelta(hours=1)
# Enough to show a GOM where else the file or reference appeared; the count says the rest.
MAX_MATCHES = 10


@dataclass(frozen=True)
class Hit:
    rule: str
    details: dict[str, Any] = field(default_factory=dict)


def submissions_per_hour(submission: Submission) -> list[Hit]:
    """More than the limit of a buyer's submissions (any group order) in the hour up to this."""
    limit = settings.FRAUD_MAX_SUBMISSIONS_PER_HOUR
    count = Submission.objects.filter(
        buyer_id=submission.buyer_id,
        created_at__gt=submission.created_at - WINDOW,
        created_at__lte=submission.created_at,
    ).count()  # the (buyer, created_at) index
    if count <= limit:
        return []
    details = {"count": count, "limit": limit, "window_seconds": int(WINDOW.total_seconds())}
    return [Hit(Rule.SUBMISSIONS_PER_HOUR, details)]


def amount_over_limit(submission: Submission) -> list[Hit]:
    """A submission whose amount due is above the fraud limit of its currency."""
    limit = settings.FRAUD_AMOUNT_LIMITS_MINOR.get(submission.currency)
    if limit is None or submission.amount_due_minor <= limit:
        return []
    details = {
        "amount_minor": submission.amount_due_minor,
        "currency": submission.currency,
        "limit_minor": limit,
    }
    return [Hit(Rule.AMOUNT_OVER_LIMIT, details)]


def proofs_per_hour(proof: PaymentProof) -> list[Hit]:
    """More than the limit of proofs uploaded by one buyer in the hour up to this one."""
    limit = settings.FRAUD_MAX_PROOFS_PER_HOUR
    count = PaymentProof.objects.filter(
        uploaded_by_id=proof.uploaded_by_id,
        created_at__gt=proof.created_at - WINDOW,
        created_at__lte=proof.created_at,
    ).count()
    if count <= limit:
        return []
    details = {"count": count, "limit": limit, "window_seconds": int(WINDOW.total_seconds())}
    return [Hit(Rule.PROOFS_PER_HOUR, details)]


def _earlier(proof: PaymentProof, created_field: str, id_field: str) -> Q:
    return Q(**{f"{created_field}__lt": proof.created_at}) | Q(
        **{created_field: proof.created_at, f"{id_field}__lt": proof.pk}
    )


def _match_details(rows: list[tuple[int, int, str, int]]) -> dict[str, Any]:
    return {
        "other_buyers": len({buyer for _, _, _, buyer in rows}),
        "matches": [
            {"proof": proof, "submission": submission, "submission_code": code}
            for proof, submission, code, _ in rows[:MAX_MATCHES]
        ],
    }


def shared_proof_file(proof: PaymentProof) -> list[Hit]:
    """The same uploaded file (SHA-256 of the original bytes) sent earlier by another buyer."""
    rows = list(
        PaymentProof.objects.filter(sha256=proof.sha256)  # indexed
        .filter(_earlier(proof, "created_at", "id"))
        .exclude(submission__buyer_id=proof.submission.buyer_id)
        .order_by("created_at", "id")
        .values_list("pk", "submission_id", "submission__code", "submission__buyer_id")[:50]
    )
    if not rows:
        return []
    return [Hit(Rule.SHARED_PROOF_FILE, {"sha256": proof.sha256, **_match_details(rows)})]


def shared_reference(proof: PaymentProof) -> list[Hit]:
    """The same reference number (normalized) read earlier from another buyer's proof."""
    normalized = normalize_reference(proof.reference)
    if not normalized:
        return []
    rows = list(
        PaymentProof.objects.exclude(reference="")
        .annotate(normalized=normalized_reference())
        .filter(normalized=normalized)  # the expression index proof_reference_normalized
        .filter(_earlier(proof, "created_at", "id"))
        .exclude(submission__buyer_id=proof.submission.buyer_id)
        .order_by("created_at", "id")
        .values_list("pk", "submission_id", "submission__code", "submission__buyer_id")[:50]
    )
    if not rows:
        return []
    return [Hit(Rule.SHARED_REFERENCE, {"reference": normalized, **_match_details(rows)})]


SUBMISSION_CHECKS = (submissions_per_hour, amount_over_limit)
PROOF_CHECKS = (proofs_per_hour, shared_proof_file, shared_reference)
