"""Daily figures per currency, rolled up from the money and verification tables once a day."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import Currency


class DailyMetric(models.Model):
    """What happened on one business day in one currency (see ``ops.rollup`` for the day's edges).

    Each count or sum is taken by the moment the thing happened (placed, received, decided,
    recorded, paid, granted), so a day's row never changes once later events are rolled up
    elsewhere; re-running a day writes the same row again.
    """

    date = models.DateField(_("day"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    submissions_placed = models.PositiveIntegerField(_("submissions placed"), default=0)
    submissions_due_minor = models.BigIntegerField(_("amount due placed (minor units)"), default=0)
    proofs_received = models.PositiveIntegerField(_("proofs received"), default=0)
    proofs_approved = models.PositiveIntegerField(_("proofs approved"), default=0)
    proofs_approved_minor = models.BigIntegerField(_("approved (minor units)"), default=0)
    proofs_rejected = models.PositiveIntegerField(_("proofs rejected"), default=0)
    proofs_reupload_requested = models.PositiveIntegerField(_("new proof requested"), default=0)
    payments_count = models.PositiveIntegerField(_("payments recorded"), default=0)
    payments_minor = models.BigIntegerField(_("payments (minor units)"), default=0)
    fees_minor = models.BigIntegerField(_("fees (minor units)"), default=0)
    payments_voided_count = models.PositiveIntegerField(_("payments voided"), default=0)
    payments_voided_minor = models.BigIntegerField(_("voided (minor units)"), default=0)
    allocated_minor = models.BigIntegerField(_("allocated (minor units)"), default=0)
    credited_minor = models.BigIntegerField(_("overpayment credited (minor units)"), default=0)
    refunds_paid_count = models.PositiveIntegerField(_("refunds paid"), default=0)
    refunds_paid_minor = models.BigIntegerField(_("refunds paid (minor units)"), default=0)
    credit_granted_minor = models.BigIntegerField(
        _("store credit granted (minor units)"), default=0
    )
    credit_used_minor = models.BigIntegerField(_("store credit used (minor units)"), default=0)
    credit_expired_minor = models.BigIntegerField(
        _("store credit expired (minor units)"), default=0
    )
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        ordering = ["-date", "currency"]
        verbose_name = _("daily metric")
        verbose_name_plural = _("daily metrics")
        constraints = [
            models.UniqueConstraint(fields=["date", "currency"], name="dailymetric_one_per_day"),
            models.CheckConstraint(
                condition=Q(payments_minor__gte=0)
                & Q(allocated_minor__gte=0)
                & Q(refunds_paid_minor__gte=0)
                & Q(credit_granted_minor__gte=0),
                name="dailymetric_sums_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.currency}"
