"""Where GOMs want to hear about payments, what was sent there, and every attempt."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.history import History


class EventType(models.TextChoices):
    SUBMISSION_VERIFIED = "submission.verified", "submission.verified"
    SUBMISSION_REJECTED = "submission.rejected", "submission.rejected"
    PAYMENT_RECORDED = "payment.recorded", "payment.recorded"
    REFUND_PAID = "refund.paid", "refund.paid"
    RECONCILIATION_DISCREPANCY = "reconciliation.discrepancy", "reconciliation.discrepancy"


class Endpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("GOM"),
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
        null=True,
        blank=True,
        help_text=_("Empty: a superuser's endpoint that hears every GOM's events."),
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("events"), default=list)
    # Newest first: the first signs alone normally; during a rotation every listed secret signs.
    secrets = models.JSONField(_("signing secrets"), default=list, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = History(excluded_fields=["secrets"])

    class Meta:
        ordering = ["owner", "url"]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one endpoint; its ``event_id`` is the stable ``webhook-id`` of every retry."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Given up")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deliveries")
    event_id = models.CharField(_("event id"), max_length=64)
    event_type = models.CharField(_("event"), max_length=64, choices=EventType.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="delivery_once_per_event"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint}"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(_("at"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.status_code or self.error}"
