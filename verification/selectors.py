"""Permission-scoped reads of payment proofs.

A proof is visible to the buyer who owns its submission, and to whoever may view the group
order (its GOM, assistants granted it, finance, superusers), by the payments selectors. Anything
else is absent, so "not yours" and "does not exist" are the same 404.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from payments.method_templates import MethodType
from payments.selectors import (
    FINANCE_PERMISSION,
    Access,
    grouporder_list_for_user,
    submission_list_for_user,
)
from verification.models import ConfidenceBand, Flag, PaymentProof, ProofReview, ReviewState


def proof_list_for_user(user: Any) -> QuerySet[PaymentProof]:
    """Return the proofs ``user`` may see."""
    if user is None or not user.is_authenticated or not user.is_active:
        return PaymentProof.objects.none()
    staff_scope = submission_list_for_user(user, access=Access.VIEW).values("pk")
    return PaymentProof.objects.filter(
        Q(submission__buyer=user) | Q(submission__in=staff_scope)
    ).select_related("submission", "submission__group_order")


def proof_get_for_user(user: Any, pk: object) -> PaymentProof:
    """Return one proof or raise Http404, whether it is missing or not the user's."""
    try:
        return proof_list_for_user(user).get(pk=pk)
    except (PaymentProof.DoesNotExist, ValueError, TypeError):
        raise Http404("No such proof.") from None


def proof_list_for_submission(submission: Any) -> QuerySet[PaymentProof]:
    """Return a submission's proofs, newest first (the caller has scoped the submission)."""
    return PaymentProof.objects.filter(submission=submission).order_by("-created_at", "-id")


# --- The verification queue (ProofReview rows), scoped like submissions.


def review_list_for_user(user: Any, *, access: Access = Access.VIEW) -> QuerySet[ProofReview]:
    """Return the proof reviews of the group orders ``user`` may act on at ``access``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ProofReview.objects.none()
    if user.is_superuser or (access == Access.VIEW and user.has_perm(FINANCE_PERMISSION)):
        return ProofReview.objects.all()
    # The ids first, as a literal list: the planner then walks the (group_order, state,
    # queued_at) index instead of guessing how many rows a sub-select returns.
    order_ids = list(grouporder_list_for_user(user, access=access).values_list("pk", flat=True))
    return ProofReview.objects.filter(group_order_id__in=order_ids)


def review_get_for_user(user: Any, pk: object) -> ProofReview:
    """Return one review (by its proof's id) with what the review page shows, or raise Http404."""
    try:
        return (
            review_list_for_user(user)
            .select_related(
                "proof",
                "submission",
                "submission__buyer",
                "submission__payment_method",
                "group_order",
                "decided_by",
                "payment",
            )
            .get(pk=pk)
        )
    except (ProofReview.DoesNotExist, ValueError, TypeError):
        raise Http404("No such proof.") from None


def user_may_verify(user: Any, group_order_id: int) -> bool:
    return grouporder_list_for_user(user, access=Access.VERIFY).filter(pk=group_order_id).exists()


def user_may_verify_any(user: Any) -> bool:
    return grouporder_list_for_user(user, access=Access.VERIFY).exists()


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page (and the API) filter and search on; empty means "any"."""

    group_order: int | None = None
    state: str = ReviewState.AWAITING
    method_type: str = ""
    flag: str = ""
    confidence: str = ""
    suggestion: str = ""
    date_from: date | None = None
    date_to: date | None = None
    search: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "QueueFilters":
        def as_int(value: str | None) -> int | None:
            return int(value) if value and value.isdigit() else None

        def as_date(value: str | None) -> date | None:
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                return None

        state = params.get("state", ReviewState.AWAITING)
        return cls(
            group_order=as_int(params.get("group_order")),
            state=state if state in ReviewState.values or state == "all" else ReviewState.AWAITING,
            method_type=params.get("method", "")
            if params.get("method") in MethodType.values
            else "",
            flag=params.get("flag", "") if params.get("flag") in Flag.values else "",
            confidence=(
                params.get("confidence", "")
                if params.get("confidence") in ConfidenceBand.values
                else ""
            ),
            suggestion=(
                params.get("suggestion", "")
                if params.get("suggestion") in ("approve", "review", "none")
                else ""
            ),
            date_from=as_date(params.get("date_from")),
            date_to=as_date(params.get("date_to")),
            search=(params.get("q") or "").strip()[:100],
        )

    def as_params(self) -> dict[str, str]:
        """The query string that gives these filters back (for links: next, pages)."""
        values = {
            "group_order": str(self.group_order) if self.group_order else "",
            "state": self.state if self.state != ReviewState.AWAITING else "",
            "method": self.method_type,
            "flag": self.flag,
            "confidence": self.confidence,
            "suggestion": self.suggestion,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "q": self.search,
        }
        return {key: value for key, value in values.items() if value}


_CONFIDENCE_BANDS = {
    ConfidenceBand.HIGH: Q(confidence__gte=Decimal("0.70")),
    ConfidenceBand.MEDIUM: Q(confidence__gte=Decimal("0.40"), confidence__lt=Decimal("0.70")),
    ConfidenceBand.LOW: Q(confidence__lt=Decimal("0.40")),
    ConfidenceBand.NONE: Q(confidence__isnull=True),
}


def review_filter(reviews: QuerySet[ProofReview], filters: QueueFilters) -> QuerySet[ProofReview]:
    """Apply the queue's filters and search; each one is backed by an index on ProofReview."""
    if filters.state != "all":
        reviews = reviews.filter(state=filters.state)
    if filters.group_order:
        reviews = reviews.filter(group_order_id=filters.group_order)
    if filters.method_type:
        reviews = reviews.filter(method_type=filters.method_type)
    if filters.flag:
        if connection.vendor == "postgresql":
            reviews = reviews.filter(flags__contains=[filters.flag])  # jsonb @>, GIN index
        else:
            reviews = reviews.filter(flags__icontains=f'"{filters.flag}"')
    if filters.confidence:
        reviews = reviews.filter(_CONFIDENCE_BANDS[ConfidenceBand(filters.confidence)])
    if filters.suggestion:
        reviews = reviews.filter(
            suggestion="" if filters.suggestion == "none" else filters.suggestion
        )
    if filters.date_from:
        reviews = reviews.filter(queued_at__date__gte=filters.date_from)
    if filters.date_to:
        reviews = reviews.filter(queued_at__date__lte=filters.date_to)
    if filters.search:
        term = filters.search
        # Codes and references are matched exactly (b-tree); names and e-mails by substring
        # (trigram GIN indexes on upper(...), which is what icontains compiles to).
        reviews = reviews.filter(
            Q(submission_code=term.upper())
            | Q(reference=term)
            | Q(reference=term.upper())
            | Q(buyer_name__icontains=term)
            | Q(buyer_email__icontains=term)
        )
    return reviews


@dataclass
class QueuePage:
    rows: list[ProofReview]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def review_queue_page(
    user: Any, filters: QueueFilters, *, page: int = 1, per_page: int = 50
) -> QueuePage:
    """Return one page of the queue, oldest first, without ever counting the whole table.

    One query for the rows (plus the scope's group order ids): one extra row is fetched to
    know whether a next page exists, which is all the pager needs.
    """
    page = max(page, 1)
    reviews = review_filter(review_list_for_user(user), filters)
    ordering = (
        ("queued_at", "proof_id")
        if filters.state == ReviewState.AWAITING
        else ("-queued_at", "-proof_id")
    )
    start = (page - 1) * per_page
    # Two steps: the page's ids from the covering index alone (skipping ``start`` rows costs
    # index entries, not joins), then the rows with what they show, by primary key.
    ids = list(
        reviews.order_by(*ordering).values_list("pk", flat=True)[start : start + per_page + 1]
    )
    shown = ids[:per_page]
    by_pk = (
        ProofReview.objects.select_related(
            "proof", "submission", "submission__payment_method", "group_order", "decided_by"
        )
        # Only what a row shows: a proof's text read alone can be kilobytes.
        .only(
            *[field.name for field in ProofReview._meta.concrete_fields],
            "proof__provider",
            "proof__amount_minor",
            "proof__flags",
            "submission__code",
            "submission__amount_due_minor",
            "submission__paid_minor",
            "submission__payment_method__display_name",
            "group_order__title",
            "decided_by__email",
            "decided_by__full_name",
        )
        .in_bulk(shown)
    )
    return QueuePage(
        rows=[by_pk[pk] for pk in shown],
        number=page,
        per_page=per_page,
        has_next=len(ids) > per_page,
    )


def review_next_awaiting(
    user: Any, filters: QueueFilters, *, after: ProofReview | None = None
) -> ProofReview | None:
    """Return the oldest awaiting review in the user's (filtered) queue, after ``after``."""
    reviews = review_filter(
        review_list_for_user(user, access=Access.VIEW),
        QueueFilters(**{**filters.__dict__, "state": ReviewState.AWAITING}),
    )
    if after is not None:
        reviews = reviews.filter(
            Q(queued_at__gt=after.queued_at) | Q(queued_at=after.queued_at, pk__gt=after.pk)
        )
    return reviews.order_by("queued_at", "proof_id").first()


def review_queue_counts(user: Any) -> dict[int, int]:
    """Return how many proofs await a decision per group order the user may see."""
    rows = (
        review_list_for_user(user)
        .filter(state=ReviewState.AWAITING)
        .values("group_order_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["group_order_id"]: row["count"] for row in rows}


def review_history_for_submission(submission_id: int) -> QuerySet[ProofReview]:
    """Return every proof review of a submission, newest first (the caller scoped it)."""
    return (
        ProofReview.objects.filter(submission_id=submission_id)
        .select_related("proof", "decided_by")
        .order_by("-queued_at", "-proof_id")
    )
