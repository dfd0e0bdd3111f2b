"""The reconciliation run: match statement lines to payments, record discrepancies.

Order of evidence, strongest first: the same normalised reference (one line to one payment, one
line to several payments, several lines to one payment, whenever the sums agree exactly); then,
for what is left, amount + date window + payer name, which is only ever a suggestion for a human.

Every write is repeat-safe: matches are unique per (line, payment) and discrepancies per key, and
a line is marked matched in the same transaction as its matches. A run works in batches that
commit on their own, so a killed worker leaves a consistent prefix and the next run finishes it.
"""

import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from audit.services import audit_record
from payments.method_templates import normalize_reference
from payments.models import Payment, PaymentAllocation, PaymentMethod
from payments.reconciliation.models import (
    Discrepancy,
    ReconciliationRun,
    Statement,
    StatementLine,
    StatementMatch,
)

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Z]{2,}")
# One run per account at a time. Only the concurrency test turns it off, to show the race it
# prevents (two runs over the same lines, each claiming the matches in its summary).
ACCOUNT_LOCKING = True


@dataclass
class _Payment:
    pk: int
    amount_minor: int
    currency: str
    reference: str
    paid_at: Any
    group_order_id: int
    names: set[str] = field(default_factory=set)


@dataclass
class _Line:
    pk: int
    amount_minor: int
    currency: str
    reference: str
    posted_at: Any
    words: set[str]


def _words(*texts: str) -> set[str]:
    return {word for text in texts for word in _WORD.findall((text or "").upper())}


def _advisory_key(payment_method_id: int) -> str:
    return f"reconcile:{payment_method_id}"


def _try_lock(payment_method_id: int) -> bool:
    if not ACCOUNT_LOCKING or connection.vendor != "postgresql":
        return True
    # Session-level: held across the run's batch transactions, released by the server when a
    # killed worker's connection drops, so a crash never leaves an account locked.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", [_advisory_key(payment_method_id)]
        )
        return bool(cursor.fetchone()[0])


def _unlock(payment_method_id: int) -> None:
    if not ACCOUNT_LOCKING or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_unlock(hashtext(%s))", [_advisory_key(payment_method_id)]
        )


def _candidate_payments(account: PaymentMethod, start: Any, end: Any, since: Any) -> list[_Payment]:
    """Recorded payments into this account's owner and method type, not yet confirmed."""
    confirmed = StatementMatch.objects.filter(
        payment=OuterRef("pk"), status=StatementMatch.Status.CONFIRMED
    )
    window = Q(paid_at__gte=start, paid_at__lte=end)
    if since is not None:
        # Payments recorded since the last run may be paid on any earlier date.
        window |= Q(created_at__gte=since)
    rows = (
        Payment.objects.filter(
            window,
            status=Payment.Status.RECORDED,
            group_order__owner_id=account.owner_id,
            method_type=account.method_type,
        )
        .filter(Q(payment_method=account) | Q(payment_method__isnull=True))
        .exclude(source=Payment.Source.WALLET)
        .exclude(Exists(confirmed))
        .values_list(
            "pk",
            "amount_minor",
            "currency",
            "reference",
            "paid_at",
            "group_order_id",
            "buyer__full_name",
        )
        .order_by("paid_at", "pk")
    )
    payments = [
        _Payment(pk, amount, currency, normalize_reference(ref), paid, order, _words(name))
        for pk, amount, currency, ref, paid, order, name in rows
    ]
    if payments:
        names: dict[int, set[str]] = defaultdict(set)
        for payment_id, buyer_name in PaymentAllocation.objects.filter(
            payment_id__in=[p.pk for p in payments]
        ).values_list("payment_id", "submission__buyer_name"):
            names[payment_id] |= _words(buyer_name)
        for payment in payments:
            payment.names |= names.get(payment.pk, set())
    return payments


@dataclass
class _Outcome:
    matches: list[StatementMatch] = field(default_factory=list)
    matched_lines: set[int] = field(default_factory=set)
    suggested_lines: set[int] = field(default_factory=set)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def extend(self, other: "_Outcome") -> None:
        self.matches += other.matches
        self.matched_lines |= other.matched_lines
        self.suggested_lines |= other.suggested_lines
        self.discrepancies += other.discrepancies


def _match_reference_group(
    run: ReconciliationRun,
    account: PaymentMethod,
    reference: str,
    lines: list[_Line],
    payments: list[_Payment],
) -> _Outcome:
    outcome = _Outcome()
    line_currencies = {line.currency for line in lines}
    payment_currencies = {payment.currency for payment in payments}
    first_line, first_payment = lines[0], payments[0]
    if line_currencies != payment_currencies:
        outcome.discrepancies.append(
            Discrepancy(
                kind=Discrepancy.Kind.CURRENCY_MISMATCH,
                key=f"currency:{account.pk}:{reference}",
                payment_method=account,
                amount_minor=sum(line.amount_minor for line in lines),
                currency=first_line.currency,
                line_id=first_line.pk,
                payment_id=first_payment.pk,
                group_order_id=first_payment.group_order_id,
                details={
                    "reference": reference,
                    "line_currencies": sorted(line_currencies),
                    "payment_currencies": sorted(payment_currencies),
                },
                run=run,
            )
        )
        return outcome
    line_sum = sum(line.amount_minor for line in lines)
    payment_sum = sum(payment.amount_minor for payment in payments)
    if line_sum != payment_sum and len(lines) > 1:
        # The bank listed one transfer more than once: keep the first copy that settles the
        # payments and report the others as duplicates.
        same = [line for line in lines if line.amount_minor == payment_sum]
        if same and len({line.amount_minor for line in lines}) == 1:
            keeper, copies = same[0], [line for line in lines if line is not same[0]]
            outcome.extend(_match_reference_group(run, account, reference, [keeper], payments))
            for copy in copies:
                outcome.discrepancies.append(_duplicate(run, account, copy, keeper.pk))
            return outcome
    if line_sum != payment_sum:
        outcome.discrepancies.append(
            Discrepancy(
                kind=Discrepancy.Kind.AMOUNT_MISMATCH,
                key=f"amount:{account.pk}:{reference}",
                payment_method=account,
                amount_minor=line_sum - payment_sum,
                currency=first_line.currency,
                line_id=first_line.pk,
                payment_id=first_payment.pk,
                group_order_id=first_payment.group_order_id,
                details={
                    "reference": reference,
                    "lines": {str(line.pk): line.amount_minor for line in lines},
                    "payments": {str(payment.pk): payment.amount_minor for payment in payments},
                },
                run=run,
            )
        )
        return outcome
    if len(lines) == 1 and len(payments) > 1:
        kind = StatementMatch.Kind.SPLIT
    elif len(lines) > 1:
        kind = StatementMatch.Kind.INSTALLMENTS
    else:
        kind = StatementMatch.Kind.REFERENCE
    for line in lines:
        for payment in payments:
            outcome.matches.append(
                StatementMatch(
                    line_id=line.pk,
                    payment_id=payment.pk,
                    kind=kind,
                    status=StatementMatch.Status.CONFIRMED,
                    run=run,
                )
            )
        outcome.matched_lines.add(line.pk)
    return outcome


def _duplicate(
    run: ReconciliationRun, account: PaymentMethod, line: _Line, original_id: int
) -> Discrepancy:
    return Discrepancy(
        kind=Discrepancy.Kind.DUPLICATE_LINE,
        key=f"duplicate:{line.pk}",
        payment_method=account,
        amount_minor=line.amount_minor,
        currency=line.currency,
        line_id=line.pk,
        details={"reference": line.reference, "original_line": original_id},
        run=run,
    )


def _write(outcome: _Outcome) -> None:
    """Write one batch's result in one transaction: matches, line states, discrepancies."""
    with transaction.atomic():
        StatementMatch.objects.bulk_create(outcome.matches, ignore_conflicts=True)
        if outcome.matched_lines:
            StatementLine.objects.filter(pk__in=outcome.matched_lines).update(
                match_status=StatementLine.MatchStatus.MATCHED
            )
        if outcome.suggested_lines:
            StatementLine.objects.filter(
                pk__in=outcome.suggested_lines,
                match_status=StatementLine.MatchStatus.UNMATCHED,
            ).update(match_status=StatementLine.MatchStatus.SUGGESTED)
        Discrepancy.objects.bulk_create(outcome.discrepancies, ignore_conflicts=True)


def _pause() -> None:
    if settings.RECONCILIATION_BATCH_PAUSE_SECONDS:
        time.sleep(settings.RECONCILIATION_BATCH_PAUSE_SECONDS)


def reconcile_account(*, payment_method_id: int, actor: Any = None) -> ReconciliationRun | None:
    """Run reconciliation for one provider account; return the run, or None when one is running.

    Safe to run again at any time, including after a worker died in the middle: it picks up
    what is not matched yet and adds no duplicate matches or discrepancies.
    """
    account = PaymentMethod.objects.get(pk=payment_method_id)
    if not _try_lock(account.pk):
        return None
    try:
        return _reconcile_locked(account, actor)
    finally:
        _unlock(account.pk)


def _reconcile_locked(account: PaymentMethod, actor: Any) -> ReconciliationRun:
    # We hold the account's lock, so a run still marked running died with its worker.
    ReconciliationRun.objects.filter(
        payment_method=account, status=ReconciliationRun.Status.RUNNING
    ).update(status=ReconciliationRun.Status.FAILED, finished_at=timezone.now())
    last = (
        ReconciliationRun.objects.filter(
            payment_method=account, status=ReconciliationRun.Status.DONE
        )
        .order_by("-started_at")
        .first()
    )
    run = ReconciliationRun.objects.create(
        payment_method=account,
        started_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    window = timedelta(days=settings.RECONCILIATION_DATE_WINDOW_DAYS)
    open_lines = StatementLine.objects.filter(
        payment_method=account,
        direction=StatementLine.Direction.CREDIT,
        match_status__in=[StatementLine.MatchStatus.UNMATCHED, StatementLine.MatchStatus.SUGGESTED],
    )
    lines = [
        _Line(pk, amount, currency, ref, posted, _words(payer, description))
        for pk, amount, currency, ref, posted, payer, description in open_lines.order_by(
            "posted_at", "pk"
        ).values_list(
            "pk",
            "amount_minor",
            "currency",
            "reference_normalized",
            "posted_at",
            "payer",
            "description",
        )
    ]
    new_statements = Statement.objects.filter(
        payment_method=account, status=Statement.Status.IMPORTED
    )
    if last is not None:
        new_statements = new_statements.filter(finished_at__gte=last.started_at)
    span = new_statements.aggregate(start=Min("period_start"), end=Max("period_end"))
    starts = [value for value in [span["start"], *(line.posted_at for line in lines[:1])] if value]
    ends = [value for value in [span["end"], *(line.posted_at for line in lines[-1:])] if value]
    payments: list[_Payment] = []
    if starts:
        payments = _candidate_payments(
            account,
            min(starts) - window,
            max(ends) + window,
            last.started_at if last is not None else None,
        )
    suggested_payments = set(
        StatementMatch.objects.filter(
            payment_id__in=[p.pk for p in payments], status=StatementMatch.Status.SUGGESTED
        ).values_list("payment_id", flat=True)
    )
    matched_count = 0
    suggested_count = 0

    # 1. The same reference, in batches of reference groups.
    lines_by_ref: dict[str, list[_Line]] = defaultdict(list)
    for line in lines:
        if line.reference:
            lines_by_ref[line.reference].append(line)
    payments_by_ref: dict[str, list[_Payment]] = defaultdict(list)
    for payment in payments:
        if payment.reference:
            payments_by_ref[payment.reference].append(payment)
    consumed_lines: set[int] = set()
    consumed_payments: set[int] = set()
    batch = _Outcome()
    batch_lines = 0
    for reference, group in lines_by_ref.items():
        found = payments_by_ref.get(reference)
        if not found:
            continue
        outcome = _match_reference_group(run, account, reference, group, found)
        consumed_lines |= {line.pk for line in group}
        consumed_payments |= {payment.pk for payment in found}
        matched_count += len(outcome.matched_lines)
        batch.extend(outcome)
        batch_lines += len(group)
        if batch_lines >= settings.RECONCILIATION_BATCH_SIZE:
            _write(batch)
            batch, batch_lines = _Outcome(), 0
            _pause()
    _write(batch)

    # A line whose reference already settled a payment earlier is the same transfer again.
    leftover_refs = {
        line.reference for line in lines if line.reference and line.pk not in consumed_lines
    }
    earlier = (
        dict(
            StatementLine.objects.filter(
                payment_method=account,
                reference_normalized__in=leftover_refs,
                match_status=StatementLine.MatchStatus.MATCHED,
            ).values_list("reference_normalized", "pk")
        )
        if leftover_refs
        else {}
    )
    batch = _Outcome()
    for line in lines:
        if line.pk in consumed_lines or line.reference not in earlier:
            continue
        batch.discrepancies.append(_duplicate(run, account, line, earlier[line.reference]))
        consumed_lines.add(line.pk)
    _write(batch)

    # 2. Amount + date window + payer name: suggestions only.
    by_amount: dict[tuple[str, int], list[_Payment]] = defaultdict(list)
    for payment in payments:
        if payment.pk not in consumed_payments and payment.pk not in suggested_payments:
            by_amount[(payment.currency, payment.amount_minor)].append(payment)
    already_suggested = set(
        StatementMatch.objects.filter(
            line_id__in=[line.pk for line in lines], status=StatementMatch.Status.SUGGESTED
        ).values_list("line_id", flat=True)
    )
    suggested_now: set[int] = set()
    batch = _Outcome()
    for line in lines:
        if line.pk in consumed_lines:
            continue
        if line.pk in already_suggested:
            suggested_count += 1
            continue
        candidates = [
            payment
            for payment in by_amount.get((line.currency, line.amount_minor), [])
            if abs(payment.paid_at - line.posted_at) <= window
        ]
        if not candidates:
            continue
        scored = sorted(
            ((len(payment.names & line.words), payment) for payment in candidates),
            key=lambda pair: (-pair[0], abs(pair[1].paid_at - line.posted_at), pair[1].pk),
        )
        best_score, best = scored[0]
        tie = len(scored) > 1 and scored[1][0] == best_score
        if best_score == 0 and tie:
            continue  # the same amount the same days from several buyers: no useful guess
        batch.matches.append(
            StatementMatch(
                line_id=line.pk,
                payment_id=best.pk,
                kind=StatementMatch.Kind.SUGGESTION,
                status=StatementMatch.Status.SUGGESTED,
                run=run,
            )
        )
        batch.suggested_lines.add(line.pk)
        suggested_now.add(line.pk)
        by_amount[(best.currency, best.amount_minor)].remove(best)
        suggested_payments.add(best.pk)
        suggested_count += 1
    _write(batch)

    # 3. What is left over.
    batch = _Outcome()
    for line in lines:
        if line.pk in consumed_lines or line.pk in suggested_now or line.pk in already_suggested:
            continue
        batch.discrepancies.append(
            Discrepancy(
                kind=Discrepancy.Kind.UNMATCHED_LINE,
                key=f"unmatched_line:{line.pk}",
                payment_method=account,
                amount_minor=line.amount_minor,
                currency=line.currency,
                line_id=line.pk,
                details={"reference": line.reference},
                run=run,
            )
        )
    _write(batch)
    covered = Statement.objects.filter(
        payment_method=account, status=Statement.Status.IMPORTED, period_start__isnull=False
    ).aggregate(start=Min("period_start"), end=Max("period_end"))
    if covered["start"] is not None:
        batch = _Outcome()
        for payment in payments:
            if payment.pk in consumed_payments or payment.pk in suggested_payments:
                continue
            # Money paid near the end of the covered period may post after it: wait for it.
            if not covered["start"] - window <= payment.paid_at <= covered["end"] - window:
                continue
            batch.discrepancies.append(
                Discrepancy(
                    kind=Discrepancy.Kind.MISSING_FROM_STATEMENT,
                    key=f"missing:{payment.pk}",
                    payment_method=account,
                    amount_minor=payment.amount_minor,
                    currency=payment.currency,
                    payment_id=payment.pk,
                    group_order_id=payment.group_order_id,
                    details={"reference": payment.reference},
                    run=run,
                )
            )
        _write(batch)
    return _finish(run, account, matched_count, suggested_count, actor)


def _close_settled(run: ReconciliationRun, account: PaymentMethod) -> int:
    """Close open discrepancies a later match settled (the payment was recorded late)."""
    settled = Discrepancy.objects.filter(
        payment_method=account, status=Discrepancy.Status.OPEN
    ).filter(
        Q(
            kind=Discrepancy.Kind.UNMATCHED_LINE,
            line__match_status=StatementLine.MatchStatus.MATCHED,
        )
        | Q(
            kind=Discrepancy.Kind.MISSING_FROM_STATEMENT,
            payment__statement_matches__status=StatementMatch.Status.CONFIRMED,
        )
    )
    closed = 0
    for discrepancy in settled.select_for_update(of=("self",)).order_by("pk"):
        discrepancy.status = Discrepancy.Status.CLOSED
        discrepancy.resolution_reason = f"Matched by reconciliation run #{run.pk}"
        discrepancy.resolved_at = timezone.now()
        discrepancy.save(update_fields=["status", "resolution_reason", "resolved_at"])
        audit_record(
            actor=None,
            action="discrepancy.closed",
            target=discrepancy,
            before={"status": Discrepancy.Status.OPEN},
            after={"status": discrepancy.status, "reason": discrepancy.resolution_reason},
        )
        closed += 1
    return closed


def _finish(
    run: ReconciliationRun, account: PaymentMethod, matched: int, suggested: int, actor: Any
) -> ReconciliationRun:
    with transaction.atomic():
        _close_settled(run, account)
        by_kind = dict(
            Discrepancy.objects.filter(payment_method=account, status=Discrepancy.Status.OPEN)
            .values_list("kind")
            .annotate(count=Count("pk"))
            .values_list("kind", "count")
        )
        unmatched = StatementLine.objects.filter(
            payment_method=account,
            direction=StatementLine.Direction.CREDIT,
            match_status=StatementLine.MatchStatus.UNMATCHED,
        ).count()
        locked = ReconciliationRun.objects.select_for_update().get(pk=run.pk)
        locked.status = ReconciliationRun.Status.DONE
        locked.finished_at = timezone.now()
        locked.matched = matched
        locked.suggested = suggested
        locked.unmatched = unmatched
        locked.discrepancies = by_kind
        locked.is_alert = sum(by_kind.values()) > settings.RECONCILIATION_ALERT_THRESHOLD
        locked.save()
        summary = {
            "payment_method": account.pk,
            "matched": matched,
            "suggested": suggested,
            "unmatched": unmatched,
            "discrepancies": by_kind,
        }
        audit_record(actor=actor, action="reconciliation.run", target=locked, after=summary)
        if locked.is_alert:
            audit_record(actor=None, action="reconciliation.alert", target=locked, after=summary)
            transaction.on_commit(
                lambda: logger.error(
                    "Reconciliation of account %s: %s open discrepancies (alert above %s): %s",
                    account.pk,
                    sum(by_kind.values()),
                    settings.RECONCILIATION_ALERT_THRESHOLD,
                    by_kind,
                )
            )
    return locked
