"""Payment proofs: the stored (encrypted) file, facts about the upload, and the agent's reading."""

from django.conf import settings
from django.db import models
from django.db.models import Func, Q, Value
from django.db.models.functions import Replace, Upper
from django.utils.translation import gettext_lazy as _

from core.history import History

# Separators a reference is printed or typed with. Without them, and in upper case, two readings
# of one reference compare equal ("gc-1234 5678" and "GC12345678").
REFERENCE_SEPARATORS = " -./_:#"


def normalize_reference(reference: str) -> str:
    """The Python twin of ``normalized_reference``: upper case, separators removed."""
    normalized = reference.upper()
    for separator in REFERENCE_SEPARATORS:
        normalized = normalized.replace(separator, "")
    return normalized


def normalized_reference(field: str = "reference") -> Func:
    """The SQL expression of ``normalize_reference``, the same one the proof's index is built on."""
    expression: Func = Upper(field)
    for separator in REFERENCE_SEPARATORS:
        expression = Replace(expression, Value(separator), Value(""))
    return expression


class AnalysisStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the agent")
    DONE = "done", _("Read")
    FAILED = "failed", _("Failed")
    UNAVAILABLE = "unavailable", _("Agent unavailable")


class Suggestion(models.TextChoices):
    NONE = "", _("No suggestion")
    APPROVE = "approve", _("Suggest approval")
    REVIEW = "review", _("Needs a human look")


class Flag(models.TextChoices):
    AMOUNT_MISMATCH = "amount_mismatch", _("Amount differs from what is due")
    DUPLICATE_FILE = "duplicate_file", _("Same file on another submission")
    DUPLICATE_REFERENCE = "duplicate_reference", _("Same reference on another submission")
    DATE_BEFORE_ORDER = "date_before_order", _("Paid before the order was placed")
    RECIPIENT_MISMATCH = "recipient_mismatch", _("Paid to someone else")
    UNREADABLE = "unreadable", _("Could not be read")


class ScanStatus(models.TextChoices):
    CLEAN = "clean", _("Scanned, clean")
    NOT_SCANNED = "not_scanned", _("Not scanned (no scanner configured)")


class PurgeReason(models.TextChoices):
    RETENTION = "retention", _("Retention period over")
    ERASURE = "erasure", _("Buyer's erasure request")


class PaymentProof(models.Model):
    AnalysisStatus = AnalysisStatus
    PurgeReason = PurgeReason
    Suggestion = Suggestion

    submission = models.ForeignKey(
        "payments.Submission",
        verbose_name=_("submission"),
        on_delete=models.PROTECT,
        related_name="proofs",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The random name inside the encrypted proof storage; never derived from the upload's name.
    storage_name = models.CharField(_("stored as"), max_length=255, unique=True, editable=False)
    original_name = models.CharField(_("file name"), max_length=150, blank=True)
    original_type = models.CharField(_("uploaded type"), max_length=64)
    content_type = models.CharField(_("stored type"), max_length=64)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 of the upload"), max_length=64, db_index=True)
    perceptual_hash = models.CharField(_("perceptual hash"), max_length=16, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    scan_status = models.CharField(_("virus scan"), max_length=16, choices=ScanStatus.choices)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    # What the smart agent read; a suggestion for the human, never a decision.
    analysis_status = models.CharField(
        _("analysis"),
        max_length=16,
        choices=AnalysisStatus.choices,
        default=AnalysisStatus.PENDING,
        db_index=True,
    )
    analysis_reason = models.TextField(_("why not read"), blank=True)
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    amount_minor = models.BigIntegerField(_("amount read (minor units)"), null=True, blank=True)
    currency = models.CharField(_("currency read"), max_length=3, blank=True)
    paid_at = models.DateTimeField(_("paid at (read)"), null=True, blank=True)
    recipient = models.CharField(_("recipient read"), max_length=120, blank=True)
    raw_text = models.TextField(_("text read"), blank=True)
    confidence = models.DecimalField(
        _("confidence"), max_digits=4, decimal_places=3, null=True, blank=True
    )
    suggestion = models.CharField(
        _("suggestion"), max_length=16, choices=Suggestion.choices, blank=True, default=""
    )
    # [{"code": "duplicate_reference", "proof": 12, "submission": 34, "submission_code": "…"}]
    flags = models.JSONField(_("flags"), default=list, blank=True)
    # Weak signals shown to the human but never flags, e.g. a similar-looking image elsewhere.
    hints = models.JSONField(_("hints"), default=list, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("duplicate of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    analyzed_at = models.DateTimeField(_("analysed"), null=True, blank=True)
    # The stored file is deleted after the retention period or on the buyer's erasure; the row,
    # its hashes and the amounts read stay, so duplicate checks and the books still work.
    file_purged_at = models.DateTimeField(_("file deleted"), null=True, blank=True)
    # Nullable, not blank-by-default: a NOT NULL column may not be added to this large table
    # (docs/migrations.md); empty until the file is deleted.
    file_purge_reason = models.CharField(  # noqa: DJ001
        _("why the file was deleted"),
        max_length=16,
        choices=PurgeReason.choices,
        blank=True,
        null=True,
    )
    history = History(excluded_fields=["raw_text"])

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["submission", "created_at"]),
            models.Index(fields=["provider", "reference"]),
            # The fraud check "same reference on another buyer's proof", whatever the provider.
            models.Index(
                normalized_reference(),
                condition=~Q(reference=""),
                name="proof_reference_normalized",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="paymentproof_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(size_bytes__gt=0), name="paymentproof_size_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Proof {self.pk} for {self.submission_id}"

    @property
    def flag_codes(self) -> list[str]:
        return [flag["code"] for flag in self.flags or []]

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"

    @property
    def is_file_purged(self) -> bool:
        return self.file_purged_at is not None

    @property
    def purge_notice(self) -> str:
        """What people see instead of a deleted file."""
        if self.file_purge_reason == PurgeReason.ERASURE:
            return "File deleted on the buyer's erasure request."
        days = settings.PROOF_RETENTION_DAYS
        return f"File deleted after {days} days (retention)."


class ReviewState(models.TextChoices):
    AWAITING = "awaiting", _("Awaiting a decision")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REUPLOAD_REQUESTED = "reupload_requested", _("New proof requested")
    # The submission left review without a decision here (a manual payment, store credit, a
    # state change in the submission admin), and a newer proof took the queue place.
    SUPERSEDED = "superseded", _("Settled or replaced elsewhere")


class RejectReason(models.TextChoices):
    AMOUNT_MISMATCH = "amount_mismatch", _("The amount does not match what is due")
    UNREADABLE = "unreadable", _("The proof cannot be read")
    DUPLICATE = "duplicate", _("This proof was already used")
    WRONG_RECIPIENT = "wrong_recipient", _("The payment went to another account")
    NOT_RECEIVED = "not_received", _("The payment has not arrived")
    OTHER = "other", _("Other (see the note)")


class ConfidenceBand(models.TextChoices):
    HIGH = "high", _("High (≥ 0.70)")
    MEDIUM = "medium", _("Medium (0.40–0.69)")
    LOW = "low", _("Low (< 0.40)")
    NONE = "none", _("Not read")


class ProofReview(models.Model):
    """One proof's place in the verification queue, and the one decision taken on it.

    The columns the queue filters and searches on are copied here from the proof, the submission
    and the buyer (set when the proof arrives and when the agent has read it), so every filter and
    search of a queue of a million rows is an index on this one table, never a join to sort.
    """

    State = ReviewState

    proof = models.OneToOneField(
        PaymentProof,
        verbose_name=_("proof"),
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="review",
    )
    submission = models.ForeignKey(
        "payments.Submission",
        verbose_name=_("submission"),
        on_delete=models.PROTECT,
        related_name="proof_reviews",
    )
    group_order = models.ForeignKey(
        "payments.GroupOrder",
        verbose_name=_("group order"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=20, choices=ReviewState.choices, default=ReviewState.AWAITING
    )
    queued_at = models.DateTimeField(_("proof received"))
    # Copies for filtering and searching (see the class docstring).
    submission_code = models.CharField(_("submission code"), max_length=12)
    buyer_name = models.CharField(_("buyer name"), max_length=150)
    buyer_email = models.CharField(_("buyer e-mail"), max_length=254)
    method_type = models.CharField(_("method type"), max_length=16, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    confidence = models.DecimalField(
        _("confidence"), max_digits=4, decimal_places=3, null=True, blank=True
    )
    suggestion = models.CharField(_("suggestion"), max_length=16, blank=True, default="")
    # Flag codes only, e.g. ["duplicate_reference"]; the proof keeps the details and links.
    flags = models.JSONField(_("flags"), default=list, blank=True)
    # The fraud checks' hits on this submission, one per rule: [{"rule": …, "summary": …}], copied
    # here by the fraud app (which owns FraudLog) so the queue shows them without another query.
    fraud_hits = models.JSONField(_("fraud checks"), null=True, blank=True)
    # The decision.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason_code = models.CharField(
        _("reason"), max_length=24, choices=RejectReason.choices, blank=True
    )
    reason_text = models.CharField(_("note to the buyer"), max_length=500, blank=True)
    amount_approved_minor = models.BigIntegerField(
        _("amount approved (minor units)"), null=True, blank=True
    )
    payment = models.ForeignKey(
        "payments.Payment",
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("proof review")
        verbose_name_plural = _("verification queue")
        ordering = ["queued_at", "proof_id"]
        indexes = [
            # The queue, oldest first: per group order here; the whole queue (and a GOM's set of
            # orders, and the flags) through a covering index made by migration 0003.
            models.Index(
                fields=["group_order", "state", "queued_at", "proof"], name="review_order_queued"
            ),
            models.Index(fields=["state", "method_type", "queued_at"], name="review_method"),
            models.Index(fields=["state", "suggestion", "queued_at"], name="review_suggestion"),
            models.Index(fields=["state", "confidence"], name="review_confidence"),
            models.Index(fields=["submission", "decided_at"], name="review_submission"),
            # Stats: what was decided in a period.
            models.Index(fields=["decided_at", "state"], name="review_decided"),
            # Search: exact codes and references. The flags (jsonb GIN) and the substring search
            # of names and e-mails (trigram GIN) are PostgreSQL indexes made by migration 0003.
            models.Index(fields=["submission_code"], name="review_code"),
            models.Index(fields=["reference"], name="review_reference"),
        ]
        constraints = [
            # Never twice: a submission has at most one proof awaiting a decision …
            models.UniqueConstraint(
                fields=["submission"],
                condition=Q(state="awaiting"),
                name="review_one_awaiting_per_submission",
            ),
            # … and a decision is complete or absent.
            models.CheckConstraint(
                condition=(Q(state="awaiting") & Q(decided_at__isnull=True))
                | (~Q(state="awaiting") & Q(decided_at__isnull=False)),
                name="review_decided_iff_not_awaiting",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved") | Q(amount_approved_minor__gt=0),
                name="review_approved_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of proof {self.proof_id}"

    @property
    def audit_label(self) -> str:
        return f"Review of proof {self.proof_id} ({self.submission_code})"
