"""Store credit: grants a buyer holds, and the append-only ledger of every movement of them.

The wallet knows buyers, currencies and amounts but not payments: a grant or an entry names what
caused it generically (``source_type`` / ``source_id``), so the wallet never imports the apps
that call it.

Invariants, held by check constraints and by the services' lock on the ``Wallet`` row:
    balance_minor = sum(entries.amount_minor) = sum(active grants' remaining_minor) >= 0
    0 <= remaining_minor <= amount_minor on every grant
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.history import History
from core.money import Currency


class Wallet(models.Model):
    """What one GOM owes one buyer as store credit in one currency; the lock of every movement.

    Credit is owed by the GOM who granted it (the ``issuer``): a refund of one GOM's order can
    never pay another GOM's order, because that GOM never received the money.
    """

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="wallets",
    )
    issuer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owed by (GOM)"),
        on_delete=models.PROTECT,
        related_name="issued_wallets",
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    # Kept equal to the ledger's sum by every service, so a balance read needs no aggregate.
    balance_minor = models.BigIntegerField(_("balance (minor units)"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["buyer", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "issuer", "currency"], name="wallet_one_per_issuer_currency"
            ),
            models.CheckConstraint(
                condition=Q(balance_minor__gte=0), name="wallet_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        # Kept free of related rows: audit rows print it inside money transactions.
        return f"Wallet #{self.pk} ({self.currency})"


class CreditGrant(models.Model):
    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        OVERPAYMENT = "overpayment", _("Overpayment")
        GOODWILL = "goodwill", _("Goodwill")
        PROMO = "promo", _("Promotion")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FULLY_USED = "fully_used", _("Fully used")
        EXPIRED = "expired", _("Expired")
        REVERSED = "reversed", _("Reversed")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="grants")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="credit_grants",
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    remaining_minor = models.BigIntegerField(_("remaining (minor units)"))
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    is_fully_used = models.BooleanField(_("fully used"), default=False)
    source_type = models.CharField(_("source type"), max_length=64, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    description = models.CharField(_("description"), max_length=300)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)
    history = History()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Spending walks a wallet's active grants soonest-expiring first.
            models.Index(fields=["wallet", "status", "expires_at"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["source_type", "source_id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="grant_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining_minor__gte=0)
                & Q(remaining_minor__lte=models.F("amount_minor")),
                name="grant_remaining_within_amount",
            ),
            # Only an active grant holds spendable credit; a closed one holds none.
            models.CheckConstraint(
                condition=Q(status="active") | Q(remaining_minor=0),
                name="grant_closed_has_nothing_left",
            ),
            models.CheckConstraint(
                condition=Q(is_fully_used=False) | Q(remaining_minor=0),
                name="grant_fully_used_has_nothing_left",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} credit #{self.pk}"


class WalletEntry(models.Model):
    """One line of the ledger: never updated, never deleted."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("Grant")
        USE = "use", _("Use")
        EXPIRY = "expiry", _("Expiry")
        REVERSAL = "reversal", _("Reversal")

    # Looked up through the (wallet, created) index below.
    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    # Signed: grants add, uses and expiries take away, reversals do either.
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    balance_after_minor = models.BigIntegerField(_("balance after (minor units)"))
    # The caller's key for the whole operation; one operation may write several entries
    # (a use that spans grants), each with its own unique ``idempotency_key``.
    operation_key = models.CharField(_("operation"), max_length=200, db_index=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=220, unique=True)
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    source_type = models.CharField(_("source type"), max_length=64, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("wallet entries")
        indexes = [models.Index(fields=["wallet", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="grant", amount_minor__gt=0)
                | Q(kind__in=["use", "expiry"], amount_minor__lt=0)
                | Q(kind="reversal") & ~Q(amount_minor=0),
                name="walletentry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(balance_after_minor__gte=0), name="walletentry_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_minor} {self.currency}"
