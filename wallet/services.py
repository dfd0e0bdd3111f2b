"""Every write of the wallet: grant, spend, expire and reverse store credit.

Each service is one transaction that locks the ``Wallet`` row first (then the grants it touches,
soonest-expiring first), re-checks on the locked copies, writes the grants, one ledger entry per
grant touched and the audit row, and moves ``Wallet.balance_minor`` by exactly the entries' sum.
Every operation carries an idempotency key: calling again with the same key returns the first
result and writes nothing; the same key for a different operation raises ``IdempotencyConflict``.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from wallet.exceptions import (
    IdempotencyConflict,
    InsufficientCredit,
    WalletRuleViolation,
)
from wallet.models import CreditGrant, Wallet, WalletEntry

# The race tests flip these: with LOCKING off the services read without FOR UPDATE, and
# RACE_WINDOW_SECONDS widens the read-to-write gap, so the control run shows the lost update the
# lock prevents. Product code never changes them.
LOCKING = True
RACE_WINDOW_SECONDS = 0.0


def race_window() -> None:
    """Sleep for the test-only race window (zero in product use)."""
    if RACE_WINDOW_SECONDS:
        time.sleep(RACE_WINDOW_SECONDS)


def _actor_or_none(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _wallet_for_update(*, buyer: Any, issuer: Any, currency: str) -> Wallet:
    """Return the wallet row locked, creating it on first use (concurrent creators converge)."""
    wallets = Wallet.objects.select_for_update() if LOCKING else Wallet.objects
    try:
        return wallets.get(buyer=buyer, issuer=issuer, currency=currency)
    except Wallet.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            Wallet.objects.create(buyer=buyer, issuer=issuer, currency=currency)
    except IntegrityError:
        # Another transaction created it between our read and insert; it exists now.
        pass
    return wallets.get(buyer=buyer, issuer=issuer, currency=currency)


def _lock_wallet(wallet_id: int) -> Wallet:
    wallets = Wallet.objects.select_for_update() if LOCKING else Wallet.objects
    return wallets.get(pk=wallet_id)


def _grants_for_update(queryset: Any) -> list[CreditGrant]:
    if LOCKING:
        queryset = queryset.select_for_update()
    return list(queryset)


def _write_entry(**entry: Any) -> WalletEntry:
    written = ledger_entry(**entry)
    written.save(force_insert=True)
    return written


def ledger_entry(
    *,
    wallet: Wallet,
    grant: CreditGrant,
    kind: str,
    amount_minor: int,
    operation_key: str,
    idempotency_key: str,
    actor: Any,
    reason: str = "",
    source_type: str = "",
    source_id: str = "",
    reverses: WalletEntry | None = None,
) -> WalletEntry:
    """The (unsaved) ledger entry of a movement on a locked wallet, whose balance it moves."""
    wallet.balance_minor += amount_minor
    return WalletEntry(
        wallet=wallet,
        grant=grant,
        kind=kind,
        amount_minor=amount_minor,
        currency=wallet.currency,
        balance_after_minor=wallet.balance_minor,
        operation_key=operation_key,
        idempotency_key=idempotency_key,
        reverses=reverses,
        source_type=source_type,
        source_id=source_id,
        reason=reason[:300],
        created_by=_actor_or_none(actor),
    )


def _expire_due_grants(*, wallet: Wallet, now: datetime, actor: Any = None) -> int:
    """Expire a locked wallet's grants whose time has passed; return the amount expired."""
    due = _grants_for_update(
        CreditGrant.objects.filter(
            wallet=wallet, status=CreditGrant.Status.ACTIVE, expires_at__lte=now
        ).order_by("expires_at", "id")
    )
    expired = 0
    for grant in due:
        amount = grant.remaining_minor
        grant.remaining_minor = 0
        grant.status = CreditGrant.Status.EXPIRED
        grant.save(update_fields=["remaining_minor", "status"])
        if amount:
            key = f"expiry:{grant.pk}"
            _write_entry(
                wallet=wallet,
                grant=grant,
                kind=WalletEntry.Kind.EXPIRY,
                amount_minor=-amount,
                operation_key=key,
                idempotency_key=key,
                actor=actor,
                reason="Credit expired",
            )
            expired += amount
        audit_record(
            actor=actor,
            action="wallet.credit_expired",
            target=grant,
            before={"remaining_minor": amount, "status": CreditGrant.Status.ACTIVE},
            after={"remaining_minor": 0, "status": CreditGrant.Status.EXPIRED},
        )
    return expired


def wallet_grant_credit(
    *,
    actor: Any,
    buyer: Any,
    issuer: Any,
    currency: str,
    amount_minor: int,
    kind: str,
    description: str,
    idempotency_key: str,
    source_type: str = "",
    source_id: str = "",
    expires_at: datetime | None = None,
) -> CreditGrant:
    """Give ``buyer`` store credit owed by ``issuer`` (the GOM) and record it in the ledger.

    ``kind`` is a ``CreditGrant.Kind``; ``description`` (the reason) is required. A repeat with
    the same key returns the first grant; the same key with other values raises
    ``IdempotencyConflict``.
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise WalletRuleViolation("A credit must be a positive whole number of minor units.")
    if kind not in CreditGrant.Kind.values:
        raise WalletRuleViolation(f"“{kind}” is not a kind of credit.")
    if not description.strip():
        raise WalletRuleViolation("Say why this credit is given.")
    if not idempotency_key:
        raise WalletRuleViolation("An idempotency key is required.")
    if expires_at is not None and expires_at <= timezone.now():
        raise WalletRuleViolation("A credit cannot expire in the past.")
    with transaction.atomic():
        wallet = _wallet_for_update(buyer=buyer, issuer=issuer, currency=currency)
        existing = CreditGrant.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if (existing.wallet_id, existing.amount_minor, existing.kind) != (
                wallet.pk,
                amount_minor,
                kind,
            ):
                raise IdempotencyConflict(
                    "This idempotency key was already used for a different credit."
                )
            return existing
        grant = CreditGrant.objects.create(
            wallet=wallet,
            buyer=buyer,
            currency=currency,
            amount_minor=amount_minor,
            remaining_minor=amount_minor,
            kind=kind,
            source_type=source_type,
            source_id=str(source_id),
            description=description.strip()[:300],
            expires_at=expires_at,
            granted_by=_actor_or_none(actor),
            idempotency_key=idempotency_key,
        )
        _write_entry(
            wallet=wallet,
            grant=grant,
            kind=WalletEntry.Kind.GRANT,
            amount_minor=amount_minor,
            operation_key=idempotency_key,
            idempotency_key=idempotency_key,
            actor=actor,
            reason=description,
            source_type=source_type,
            source_id=str(source_id),
        )
        wallet.save(update_fields=["balance_minor", "updated_at"])
        audit_record(
            actor=actor,
            action="wallet.credit_granted",
            target=grant,
            after={
                "amount_minor": amount_minor,
                "currency": currency,
                "kind": kind,
                "buyer": buyer.pk,
                "issuer": issuer.pk,
                "description": grant.description,
                "balance_minor": wallet.balance_minor,
            },
        )
    return grant


@dataclass(frozen=True)
class Spend:
    """What a spend took: the ledger entries written (one per grant) and their total."""

    wallet: Wallet
    entries: list[WalletEntry]

    @property
    def amount_minor(self) -> int:
        return -sum(entry.amount_minor for entry in self.entries)


def wallet_balance_for_update(*, buyer: Any, issuer: Any, currency: str) -> Wallet:
    """Lock a buyer's wallet inside the caller's transaction, expiring what is due first.

    For a caller (the payments app's ``wallet_apply_credit``) that must know the spendable
    balance before deciding how much to spend; it must already be inside ``transaction.atomic``.
    """
    wallet = _wallet_for_update(buyer=buyer, issuer=issuer, currency=currency)
    expired = _expire_due_grants(wallet=wallet, now=timezone.now())
    if expired:
        wallet.save(update_fields=["balance_minor", "updated_at"])
    return wallet


def spend_plan(grants: list[CreditGrant], amount_minor: int) -> list[tuple[CreditGrant, int]]:
    """Take ``amount_minor`` from ``grants`` in their order (soonest-expiring first): each
    grant used with what it gives, its remaining amount and state changed (not saved)."""
    left = amount_minor
    plan = []
    for grant in grants:
        if left == 0:
            break
        take = min(left, grant.remaining_minor)
        left -= take
        grant.remaining_minor -= take
        if grant.remaining_minor == 0:
            grant.is_fully_used = True
            grant.status = CreditGrant.Status.FULLY_USED
        plan.append((grant, take))
    return plan


def spend_entries(
    wallet: Wallet,
    plan: list[tuple[CreditGrant, int]],
    *,
    key: str,
    actor: Any,
    reason: str,
    source: tuple[str, str],
) -> list[WalletEntry]:
    """The (unsaved) ledger entries of a spend ``plan`` (``spend_plan``), one per grant, under
    the spend's ``key``; the locked wallet's balance moves with them."""
    return [
        ledger_entry(
            wallet=wallet,
            grant=grant,
            kind=WalletEntry.Kind.USE,
            amount_minor=-take,
            operation_key=key,
            idempotency_key=f"{key}:{grant.pk}",
            actor=actor,
            reason=reason,
            source_type=source[0],
            source_id=source[1],
        )
        for grant, take in plan
    ]


def wallet_spend(
    *,
    actor: Any,
    buyer: Any,
    issuer: Any,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    source_type: str,
    source_id: str,
    reason: str,
    locked_wallet: Wallet | None = None,
) -> Spend:
    """Spend ``amount_minor`` of a buyer's credit, soonest-expiring grants first, all or nothing.

    Raises ``InsufficientCredit`` (nothing written) when the unexpired credit is short. A repeat
    with the same key returns the first spend. ``locked_wallet`` is the wallet a caller already
    holds from ``wallet_balance_for_update`` in the same transaction (saves locking it twice).
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise WalletRuleViolation("An amount to spend must be a positive whole number.")
    if not idempotency_key:
        raise WalletRuleViolation("An idempotency key is required.")
    with transaction.atomic():
        wallet = locked_wallet or wallet_balance_for_update(
            buyer=buyer, issuer=issuer, currency=currency
        )
        earlier = list(WalletEntry.objects.filter(operation_key=idempotency_key).order_by("id"))
        if earlier:
            spend = Spend(wallet=wallet, entries=earlier)
            if earlier[0].wallet_id != wallet.pk or spend.amount_minor != amount_minor:
                raise IdempotencyConflict(
                    "This idempotency key was already used for a different spend."
                )
            return spend
        grants = _grants_for_update(
            CreditGrant.objects.filter(
                wallet=wallet, status=CreditGrant.Status.ACTIVE, remaining_minor__gt=0
            ).order_by("expires_at", "created_at", "id")  # NULL expiry sorts last in PostgreSQL
        )
        available = sum(grant.remaining_minor for grant in grants)
        race_window()
        if available < amount_minor:
            raise InsufficientCredit(
                f"Only {available} of the {amount_minor} asked for is available as credit."
            )
        plan = spend_plan(grants, amount_minor)
        for grant, _take in plan:
            grant.save(update_fields=["remaining_minor", "is_fully_used", "status"])
        entries = spend_entries(
            wallet,
            plan,
            key=idempotency_key,
            actor=actor,
            reason=reason,
            source=(source_type, str(source_id)),
        )
        for entry in entries:
            entry.save(force_insert=True)
        wallet.save(update_fields=["balance_minor", "updated_at"])
        audit_record(
            actor=actor,
            action="wallet.credit_used",
            target=wallet,
            after={
                "amount_minor": amount_minor,
                "grants": [entry.grant_id for entry in entries],
                "source": f"{source_type}:{source_id}",
                "balance_minor": wallet.balance_minor,
            },
        )
    return Spend(wallet=wallet, entries=entries)


def wallet_expire_credits(*, actor: Any = None, now: datetime | None = None) -> int:
    """Expire every grant whose time has passed, one wallet per transaction; return the count.

    Run daily by ``wallet.tasks.expire_credits``; safe to run twice (an expired grant is skipped).
    """
    now = now or timezone.now()
    wallet_ids = (
        CreditGrant.objects.filter(status=CreditGrant.Status.ACTIVE, expires_at__lte=now)
        .values_list("wallet_id", flat=True)
        .distinct()
    )
    count = 0
    for wallet_id in sorted(set(wallet_ids)):
        with transaction.atomic():
            wallet = _lock_wallet(wallet_id)
            before = CreditGrant.objects.filter(
                wallet=wallet, status=CreditGrant.Status.EXPIRED
            ).count()
            _expire_due_grants(wallet=wallet, now=now, actor=actor)
            wallet.save(update_fields=["balance_minor", "updated_at"])
            count += (
                CreditGrant.objects.filter(wallet=wallet, status=CreditGrant.Status.EXPIRED).count()
                - before
            )
    return count


def wallet_reverse(
    *, actor: Any, operation_key: str, reason: str, idempotency_key: str
) -> list[WalletEntry]:
    """Undo one earlier operation by its key, with a reason, atomically.

    A grant is taken back (what is left of it; what was spent stays spent). A spend is put back
    on the grants it came from; credit returned to a grant that has meanwhile expired or been
    taken back is closed again at once, so the balance never holds credit that is no longer
    valid. A second reversal of the same operation is refused; a repeat with the same
    ``idempotency_key`` returns the first reversal.
    """
    if not reason.strip():
        raise WalletRuleViolation("Say why this is reversed.")
    if not idempotency_key:
        raise WalletRuleViolation("An idempotency key is required.")
    originals = list(
        WalletEntry.objects.filter(
            operation_key=operation_key, kind__in=[WalletEntry.Kind.GRANT, WalletEntry.Kind.USE]
        ).order_by("id")
    )
    if not originals:
        raise WalletRuleViolation("There is no grant or spend with that key to reverse.")
    with transaction.atomic():
        wallet = _lock_wallet(originals[0].wallet_id)
        earlier = list(WalletEntry.objects.filter(operation_key=idempotency_key).order_by("id"))
        if earlier:
            if earlier[0].reverses_id not in {entry.pk for entry in originals}:
                raise IdempotencyConflict(
                    "This idempotency key was already used for a different operation."
                )
            return earlier
        if WalletEntry.objects.filter(reverses__in=originals).exists():
            raise WalletRuleViolation("This operation was already reversed.")
        grants = {
            grant.pk: grant
            for grant in _grants_for_update(
                CreditGrant.objects.filter(pk__in=[e.grant_id for e in originals]).order_by("id")
            )
        }
        written: list[WalletEntry] = []
        sequence = 0

        def entry(grant: CreditGrant, kind: str, amount: int, original: WalletEntry) -> None:
            nonlocal sequence
            sequence += 1
            written.append(
                _write_entry(
                    wallet=wallet,
                    grant=grant,
                    kind=kind,
                    amount_minor=amount,
                    operation_key=idempotency_key,
                    idempotency_key=f"{idempotency_key}:{sequence}",
                    actor=actor,
                    reason=reason,
                    reverses=original,
                )
            )

        for original in originals:
            grant = grants[original.grant_id]
            if original.kind == WalletEntry.Kind.GRANT:
                if grant.status != CreditGrant.Status.ACTIVE or grant.remaining_minor == 0:
                    raise WalletRuleViolation(
                        "Nothing is left of this credit to take back (used, expired or reversed)."
                    )
                entry(grant, WalletEntry.Kind.REVERSAL, -grant.remaining_minor, original)
                grant.remaining_minor = 0
                grant.status = CreditGrant.Status.REVERSED
                grant.save(update_fields=["remaining_minor", "status"])
                continue
            restored = -original.amount_minor
            entry(grant, WalletEntry.Kind.REVERSAL, restored, original)
            is_still_valid = grant.status in (
                CreditGrant.Status.ACTIVE,
                CreditGrant.Status.FULLY_USED,
            ) and (grant.expires_at is None or grant.expires_at > timezone.now())
            if is_still_valid:
                grant.remaining_minor += restored
                grant.status = CreditGrant.Status.ACTIVE
                grant.is_fully_used = False
                grant.save(update_fields=["remaining_minor", "status", "is_fully_used"])
            else:
                closing_kind = (
                    WalletEntry.Kind.REVERSAL
                    if grant.status == CreditGrant.Status.REVERSED
                    else WalletEntry.Kind.EXPIRY
                )
                entry(grant, closing_kind, -restored, original)
                if grant.status != CreditGrant.Status.REVERSED:
                    grant.status = CreditGrant.Status.EXPIRED
                    grant.save(update_fields=["status"])
        wallet.save(update_fields=["balance_minor", "updated_at"])
        audit_record(
            actor=actor,
            action="wallet.reversed",
            target=wallet,
            after={
                "operation": operation_key,
                "reason": reason.strip(),
                "amount_minor": sum(e.amount_minor for e in written),
                "balance_minor": wallet.balance_minor,
            },
        )
    return written


def wallet_sum_check(wallets: Iterable[Wallet]) -> list[str]:
    """Return a description of every wallet whose balance disagrees with its ledger or grants.

    Used by the tests and by operators' health checks; an empty list means all is consistent.
    """
    from django.db.models import Sum

    problems = []
    for wallet in wallets:
        ledger = wallet.entries.aggregate(total=Sum("amount_minor"))["total"] or 0
        remaining = (
            wallet.grants.filter(status=CreditGrant.Status.ACTIVE).aggregate(
                total=Sum("remaining_minor")
            )["total"]
            or 0
        )
        if not (wallet.balance_minor == ledger == remaining) or wallet.balance_minor < 0:
            problems.append(
                f"wallet {wallet.pk}: balance {wallet.balance_minor}, ledger {ledger}, "
                f"grants {remaining}"
            )
    return problems


__all__ = [
    "Spend",
    "wallet_balance_for_update",
    "wallet_expire_credits",
    "wallet_grant_credit",
    "wallet_reverse",
    "wallet_spend",
    "wallet_sum_check",
]
