"""Reconciliation: imported statements, their lines, matches to payments, runs and discrepancies.

Imported by ``payments.models`` so the tables belong to the payments app (one migration history).
Statement lines are insert-only: a line is the bank's word and is never edited; what finance
decides about it lives in matches and discrepancy resolutions.
"""

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import Currency


def statement_storage() -> Storage:
    """Statements name payers and accounts: kept in private storage, never under MEDIA_URL."""
    return storages["statements"]


class DecimalStyle(models.TextChoices):
    DOT = "dot", _("1,234.56 (dot decimals)")
    COMMA = "comma", _("1.234,56 (comma decimals)")
    MINOR_UNITS = "minor", _("Whole minor units (123456 = 1,234.56)")


class StatementMapping(models.Model):
    """A custom column mapping finance saves for an export no preset knows."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, default=",")
    header_marker = models.CharField(
        _("header contains"),
        max_length=100,
        blank=True,
        help_text=_("Text of a header cell that marks the header row; empty: the first row."),
    )
    date_column = models.CharField(_("date column"), max_length=100)
    date_format = models.CharField(
        _("date format"), max_length=40, default="%Y-%m-%d", help_text=_("e.g. %d/%m/%Y")
    )
    amount_column = models.CharField(
        _("amount column"),
        max_length=100,
        blank=True,
        help_text=_("Signed amount (money in positive); or fill debit and credit instead."),
    )
    debit_column = models.CharField(_("debit column"), max_length=100, blank=True)
    credit_column = models.CharField(_("credit column"), max_length=100, blank=True)
    reference_column = models.CharField(_("reference column"), max_length=100, blank=True)
    payer_column = models.CharField(_("payer column"), max_length=100, blank=True)
    description_column = models.CharField(_("description column"), max_length=100, blank=True)
    currency_column = models.CharField(
        _("currency column"),
        max_length=100,
        blank=True,
        help_text=_("Empty: every line is in the account's currency."),
    )
    decimal_style = models.CharField(
        _("decimal style"), max_length=8, choices=DecimalStyle.choices, default=DecimalStyle.DOT
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_column="") | (~Q(debit_column="") & ~Q(credit_column="")),
                name="statementmapping_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Statement(models.Model):
    """One imported file for one provider account (a GOM's payment method)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        IMPORTING = "importing", _("Importing")
        IMPORTED = "imported", _("Imported")
        FAILED = "failed", _("Failed")

    payment_method = models.ForeignKey(
        "payments.PaymentMethod",
        verbose_name=_("provider account"),
        on_delete=models.PROTECT,
        related_name="statements",
    )
    preset = models.CharField(_("preset"), max_length=32, blank=True)
    mapping = models.ForeignKey(
        StatementMapping,
        verbose_name=_("custom mapping"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statements",
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    file = models.FileField(
        _("file"), upload_to="statements/%Y/%m/", storage=statement_storage, blank=True
    )
    file_name = models.CharField(_("file name"), max_length=200)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    lines_added = models.PositiveIntegerField(_("lines added"), default=0)
    lines_already_present = models.PositiveIntegerField(_("lines already there"), default=0)
    # [{"row": 7, "reason": "bad date “31/02/2026”"}] — the rows that were not imported, and why.
    error_rows = models.JSONField(_("rows with errors"), default=list, blank=True)
    total_minor = models.BigIntegerField(_("total of good rows (minor units)"), default=0)
    progress_done = models.PositiveIntegerField(_("rows processed"), default=0)
    progress_total = models.PositiveIntegerField(_("rows to process"), default=0)
    failure_reason = models.TextField(_("failure"), blank=True)
    # The first and last posting of its lines: where a missing payment would have shown up.
    period_start = models.DateTimeField(_("first line"), null=True, blank=True)
    period_end = models.DateTimeField(_("last line"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["payment_method", "created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.IMPORTED else 0
        return min(100, self.progress_done * 100 // self.progress_total)


class StatementLine(models.Model):
    """One transaction of a statement; unique per account by its checksum."""

    class Direction(models.TextChoices):
        CREDIT = "credit", _("Money in")
        DEBIT = "debit", _("Money out")

    class MatchStatus(models.TextChoices):
        UNMATCHED = "unmatched", _("Unmatched")
        SUGGESTED = "suggested", _("Suggested match")
        MATCHED = "matched", _("Matched")

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    # Denormalised from the statement so the checksum is unique per account in one index.
    payment_method = models.ForeignKey(
        "payments.PaymentMethod", on_delete=models.PROTECT, related_name="+"
    )
    row_number = models.PositiveIntegerField(_("row in file"))
    posted_at = models.DateTimeField(_("posted"))
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    reference_normalized = models.CharField(_("normalised reference"), max_length=120, blank=True)
    payer = models.CharField(_("payer"), max_length=200, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    balance_minor = models.BigIntegerField(_("balance (minor units)"), null=True, blank=True)
    checksum = models.CharField(_("checksum"), max_length=64)
    match_status = models.CharField(
        _("match"), max_length=16, choices=MatchStatus.choices, default=MatchStatus.UNMATCHED
    )

    class Meta:
        ordering = ["posted_at", "id"]
        indexes = [
            models.Index(fields=["payment_method", "reference_normalized"]),
            models.Index(fields=["payment_method", "match_status", "posted_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payment_method", "checksum"], name="statementline_unique_checksum"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="statementline_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.posted_at:%Y-%m-%d} {self.direction} {self.amount_minor} {self.reference}"


class StatementMatch(models.Model):
    """A link between a statement line and a payment: confirmed, or suggested for a human."""

    class Kind(models.TextChoices):
        REFERENCE = "reference", _("Same reference")
        SPLIT = "split", _("One line pays several submissions")
        INSTALLMENTS = "installments", _("Several lines pay one payment")
        SUGGESTION = "suggestion", _("Amount, date and payer name")
        MANUAL = "manual", _("Linked by hand")
        TRIPLE = "triple", _("Proof, statement and submission agree")

    class Status(models.TextChoices):
        SUGGESTED = "suggested", _("Suggested")
        CONFIRMED = "confirmed", _("Confirmed")

    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, related_name="matches")
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="statement_matches"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    run = models.ForeignKey(
        "ReconciliationRun", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("matched at"), auto_now_add=True)

    class Meta:
        ordering = ["line", "payment"]
        constraints = [
            models.UniqueConstraint(fields=["line", "payment"], name="statementmatch_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"line {self.line_id} ↔ payment {self.payment_id} ({self.kind})"


class ReconciliationRun(models.Model):
    """One pass of matching over one provider account, with its summary."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    payment_method = models.ForeignKey(
        "payments.PaymentMethod",
        verbose_name=_("provider account"),
        on_delete=models.PROTECT,
        related_name="reconciliation_runs",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    matched = models.PositiveIntegerField(_("lines matched"), default=0)
    suggested = models.PositiveIntegerField(_("lines with a suggestion"), default=0)
    unmatched = models.PositiveIntegerField(_("lines unmatched"), default=0)
    # {"missing_from_statement": 1, "unmatched_line": 2, ...}: open discrepancies after the run.
    discrepancies = models.JSONField(_("open discrepancies by type"), default=dict, blank=True)
    is_alert = models.BooleanField(_("alert raised"), default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["payment_method", "started_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} on {self.payment_method_id} ({self.status})"


class Discrepancy(models.Model):
    class Kind(models.TextChoices):
        MISSING_FROM_STATEMENT = "missing_from_statement", _("Verified payment, no statement line")
        UNMATCHED_LINE = "unmatched_line", _("Statement line, no payment")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amounts differ")
        CURRENCY_MISMATCH = "currency_mismatch", _("Currencies differ")
        DUPLICATE_LINE = "duplicate_line", _("Duplicate statement line")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        LINKED = "linked", _("Resolved: linked by hand")
        CLOSED = "closed", _("Resolved: closed with a reason")

    kind = models.CharField(_("type"), max_length=32, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    # What makes two runs find "the same" discrepancy; unique, so a re-run adds nothing.
    key = models.CharField(_("key"), max_length=200, unique=True)
    payment_method = models.ForeignKey(
        "payments.PaymentMethod", on_delete=models.PROTECT, related_name="+"
    )
    # The difference (or the whole amount for a missing line / payment), in the line's currency.
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    line = models.ForeignKey(
        StatementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group_order = models.ForeignKey(
        "payments.GroupOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("found"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolution_reason = models.CharField(_("resolution"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("discrepancies")
        indexes = [models.Index(fields=["status", "kind", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(resolution_reason=""),
                name="discrepancy_resolution_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"
