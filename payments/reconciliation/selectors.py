"""Permission-scoped reads for reconciliation, reports and the triple match.

Finance (``payments.view_all_orders``) sees every account; a GOM sees the statements, lines,
runs and discrepancies of their own payment methods and group orders; anyone else sees nothing.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from core.prepared import PreparedStatement
from core.sql_names import column, table
from payments.method_templates import normalize_reference
from payments.models import PaymentMethod, Submission, SubmissionStatus
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


@dataclass(frozen=True)
class ClaimTarget:
    """What decides whether a line can confirm a claim, of the submission the claim is for."""

    status: str
    outstanding_minor: int
    owner_id: int  # the group order's GOM: only their accounts' lines count
    currency: str

    @classmethod
    def of(cls, submission: Submission) -> "ClaimTarget":
        return cls(
            status=submission.status,
            outstanding_minor=submission.outstanding_minor,
            owner_id=submission.group_order.owner_id,
            currency=submission.currency,
        )


def _claim_open(claim: Claim, target: ClaimTarget) -> bool:
    """The submission still waits for exactly the amount the proof claims."""
    return (
        target.status in (SubmissionStatus.PROOF_SUBMITTED, SubmissionStatus.PARTIALLY_PAID)
        and claim.amount_minor == target.outstanding_minor
    )


def _line_confirms(
    claim: Claim, target: ClaimTarget, *, owner_id: int, amount_minor: int, currency: str
) -> bool:
    """A candidate line (same reference) confirms: the GOM's account, same amount and currency."""
    return (
        owner_id == target.owner_id
        and amount_minor == claim.amount_minor
        and currency == claim.currency == target.currency
    )


def _candidate_lines(
    owners: set[int], claims: Sequence[Claim]
) -> tuple[QuerySet[StatementLine], dict[int, str]]:
    """Unmatched money-in lines on the owners' accounts with one of the claims' references.

    One plain IN query (the (payment method, reference) index answers it); the exact
    owner/amount/currency check per claim is ``_line_confirms``. An OR of one clause per claim
    cost the verification queue 35 ms a page just to compile. Also returns each claim's
    normalised reference by submission.
    """
    references = {claim.submission_id: normalize_reference(claim.reference) for claim in claims}
    lines = (
        StatementLine.objects.filter(
            payment_method__owner_id__in=owners,
            reference_normalized__in=set(references.values()),
            direction=StatementLine.Direction.CREDIT,
        )
        .exclude(match_status=StatementLine.MatchStatus.MATCHED)
        .order_by("posted_at", "pk")
    )
    return lines, references


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
    targets = {
        row.pk: ClaimTarget.of(row)
        for row in Submission.objects.filter(
            pk__in=[claim.submission_id for claim in usable]
        ).select_related("group_order")
    }
    owners = {target.owner_id for target in targets.values()}
    if not owners:
        return {}
    candidates, references = _candidate_lines(owners, usable)
    by_reference: dict[str, list[StatementLine]] = {}
    for line in candidates.select_related("statement", "payment_method"):
        by_reference.setdefault(line.reference_normalized, []).append(line)
    found: dict[int, StatementLine] = {}
    for claim in usable:
        target = targets.get(claim.submission_id)
        if target is None or not _claim_open(claim, target):
            continue
        for line in by_reference.get(references[claim.submission_id], []):
            if _line_confirms(
                claim,
                target,
                owner_id=line.payment_method.owner_id,
                amount_minor=line.amount_minor,
                currency=line.currency,
            ):
                found[claim.submission_id] = line
                break
    return found


def _candidate_lines_sql(owners: str, references: str) -> str:
    """``_candidate_lines`` as one hand-written statement (the queue asks it on every page);
    ``owners`` and ``references`` are what the two lists are compared with."""

    def line(field: str) -> str:
        return column(StatementLine, field, "l")

    return (
        f"SELECT {line('reference_normalized')}, {column(PaymentMethod, 'owner', 'm')},"  # noqa: S608 (names from the models)
        f" {line('amount_minor')}, {line('currency')}"
        f" FROM {table(StatementLine, 'l')}"
        f" JOIN {table(PaymentMethod, 'm')} ON m.id = {line('payment_method')}"
        f" WHERE {column(PaymentMethod, 'owner', 'm')} {owners}"
        f" AND {line('reference_normalized')} {references}"
        f" AND {line('direction')} = %s AND {line('match_status')} <> %s"
    )


@functools.cache
def _candidate_lines_statement() -> PreparedStatement:
    # On PostgreSQL each list is one array parameter: one text, planned once per connection.
    sql = _candidate_lines_sql("= ANY(%s)", "= ANY(%s)")
    return PreparedStatement(
        "reconciliation_candidate_lines", sql, ["bigint[]", "text[]", "text", "text"]
    )


def _read_candidate_lines(owners: list[int], references: list[str]) -> list[tuple[Any, ...]]:
    fixed = [StatementLine.Direction.CREDIT.value, StatementLine.MatchStatus.MATCHED.value]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _candidate_lines_statement().execute(cursor, [owners, references, *fixed])
        else:
            sql = _candidate_lines_sql(
                f"IN ({', '.join(['%s'] * len(owners))})",
                f"IN ({', '.join(['%s'] * len(references))})",
            )
            cursor.execute(sql, [*owners, *references, *fixed])
        return cursor.fetchall()


def confirmed_claims(claims: Sequence[tuple[Claim, ClaimTarget]]) -> set[int]:
    """Return the submissions whose claim a statement line confirms, by the same rules as
    ``statement_lines_for_claims``, for callers that read the targets already: one statement,
    plain values (the verification queue's "confirmed by statement" badge)."""
    usable = [
        (claim, target, reference)
        for claim, target in claims
        if _claim_open(claim, target) and (reference := normalize_reference(claim.reference))
    ]
    if not usable:
        return set()
    owners = sorted({target.owner_id for _claim, target, _reference in usable})
    wanted = sorted({reference for _claim, _target, reference in usable})
    by_reference: dict[str, list[tuple[int, int, str]]] = {}
    for reference, owner_id, amount_minor, currency in _read_candidate_lines(owners, wanted):
        by_reference.setdefault(reference, []).append((owner_id, amount_minor, currency))
    return {
        claim.submission_id
        for claim, target, reference in usable
        if any(
            _line_confirms(claim, target, owner_id=owner, amount_minor=amount, currency=currency)
            for owner, amount, currency in by_reference.get(reference, [])
        )
    }
