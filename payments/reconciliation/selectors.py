"""Permission-scoped reads for reconciliation, reports and the triple match.

Finance (``payments.view_all_orders``) sees every account; a GOM sees the statements, lines,
runs and discrepancies of their own payment methods and group orders; anyone else sees nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from payments.method_templates import normalize_reference
from payments.models import Submission, SubmissionStatus
from payments.reconciliation.models import (
    Discrepancy,
    ReconciliationRun,
    Statement,
    StatementLine,
    StatementMatch,
)
from payments.selectors import FINANCE_PERMISSION, Access, grouporder_list_for_user


def _is_anonymous(user: Any) -> bool:
    return user is None or not user.is_authenticated or not user.is_active


def user_sees_all_finance(user: Any) -> bool:
    return not _is_anonymous(user) and (user.is_superuser or user.has_perm(FINANCE_PERMISSION))


def _owner_scope(user: Any, queryset: QuerySet[Any], owner_path: str) -> QuerySet[Any]:
    if _is_anonymous(user):
        return queryset.none()
    if user_sees_all_finance(user):
        return queryset
    if not user.is_staff:
        return queryset.none()
    return queryset.filter(**{owner_path: user})


def statement_list_for_user(user: Any) -> QuerySet[Statement]:
    """Return the statements ``user`` may see: finance all, a GOM those of their accounts."""
    return _owner_scope(user, Statement.objects.all(), "payment_method__owner")


def statement_line_list_for_user(user: Any) -> QuerySet[StatementLine]:
    return _owner_scope(user, StatementLine.objects.all(), "payment_method__owner")


def run_list_for_user(user: Any) -> QuerySet[ReconciliationRun]:
    return _owner_scope(user, ReconciliationRun.objects.all(), "payment_method__owner")


def discrepancy_list_for_user(user: Any) -> QuerySet[Discrepancy]:
    return _owner_scope(user, Discrepancy.objects.all(), "payment_method__owner")


def match_list_for_user(user: Any) -> QuerySet[StatementMatch]:
    return _owner_scope(user, StatementMatch.objects.all(), "line__payment_method__owner")


def user_can_reconcile(user: Any) -> bool:
    """Import statements, run reconciliation and resolve discrepancies: finance only."""
    return not _is_anonymous(user) and (user.is_superuser or user.has_perm("payments.reconcile"))


def grouporders_for_reports(user: Any) -> QuerySet[Any]:
    """The group orders whose figures ``user`` may see in reports and exports."""
    return grouporder_list_for_user(user, access=Access.VIEW)


@dataclass(frozen=True)
class Claim:
    """What a proof says was paid for a submission (read by the agent)."""

    submission_id: int
    reference: str
    amount_minor: int
    currency: str


def statement_lines_for_claims(claims: Sequence[Claim]) -> dict[int, StatementLine]:
    """Return, per submission, the statement line that confirms its proof's claim.

    A line confirms when it is money in on an account of the submission's GOM, with the same
    normalised reference, the same amount and currency as the proof, that amount is exactly
    what the submission still owes, and the line is not already matched to another payment.
    Two queries whatever the number of claims.
    """
    usable = [claim for claim in claims if normalize_reference(claim.reference)]
    if not usable:
        return {}
    submissions = {
        row.pk: row
        for row in Submission.objects.filter(
            pk__in=[claim.submission_id for claim in usable]
        ).select_related("group_order")
    }
    owners = {submission.group_order.owner_id for submission in submissions.values()}
    if not owners:
        return {}
    # One plain IN query (the (payment method, reference) index answers it); the exact
    # owner/amount/currency check per claim is below. An OR of one clause per claim cost the
    # verification queue 35 ms a page just to compile.
    candidates = (
        StatementLine.objects.filter(
            payment_method__owner_id__in=owners,
            reference_normalized__in={normalize_reference(claim.reference) for claim in usable},
            direction=StatementLine.Direction.CREDIT,
        )
        .exclude(match_status=StatementLine.MatchStatus.MATCHED)
        .select_related("statement", "payment_method")
        .order_by("posted_at", "pk")
    )
    by_reference: dict[str, list[StatementLine]] = {}
    for line in candidates:
        by_reference.setdefault(line.reference_normalized, []).append(line)
    found: dict[int, StatementLine] = {}
    for claim in usable:
        submission = submissions.get(claim.submission_id)
        if submission is None or submission.status not in (
            SubmissionStatus.PROOF_SUBMITTED,
            SubmissionStatus.PARTIALLY_PAID,
        ):
            continue
        if claim.amount_minor != submission.outstanding_minor:
            continue
        for line in by_reference.get(normalize_reference(claim.reference), []):
            if (
                line.payment_method.owner_id == submission.group_order.owner_id
                and line.amount_minor == claim.amount_minor
                and line.currency == claim.currency == submission.currency
            ):
                found[claim.submission_id] = line
                break
    return found
