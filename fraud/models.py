"""Fraud check hits: one row per rule and submission (or proof); a flag, never a block."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import format_money


class Rule(models.TextChoices):
    SUBMISSIONS_PER_HOUR = "submissions_per_hour", _("Many submissions in an hour")
    PROOFS_PER_HOUR = "proofs_per_hour", _("Many proofs in an hour")
    SHARED_PROOF_FILE = "shared_proof_file", _("Same proof file as another buyer")
    SHARED_REFERENCE = "shared_reference", _("Same reference as another buyer")
    AMOUNT_OVER_LIMIT = "amount_over_limit", _("Amount over the limit")


# The rules about a whole submission; the others are about one proof.
SUBMISSION_RULES = frozenset({Rule.SUBMISSIONS_PER_HOUR, Rule.AMOUNT_OVER_LIMIT})


class FraudLog(models.Model):
    Rule = Rule

    rule = models.CharField(_("rule"), max_length=32, choices=Rule.choices)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("buyer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Set on every row (a proof's hit names its submission too), so the queue flag of a
    # submission is one indexed lookup.
    submission = models.ForeignKey(
        "payments.Submission",
        verbose_name=_("submission"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    proof = models.ForeignKey(
        "verification.PaymentProof",
        verbose_name=_("proof"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The scope: a GOM sees the hits of their own group orders.
    group_order = models.ForeignKey(
        "payments.GroupOrder",
        verbose_name=_("group order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Counts, limits and the other proofs' ids and submission codes; never names or e-mails.
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("found at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("fraud check hit")
        verbose_name_plural = _("fraud check hits")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["group_order", "created_at"], name="fraudlog_order_created"),
            models.Index(fields=["submission", "rule"], name="fraudlog_submission"),
            models.Index(fields=["buyer", "created_at"], name="fraudlog_buyer"),
        ]
        constraints = [
            # A check run again (a retried task, the check after upload and after analysis)
            # finds its row and writes nothing new.
            models.UniqueConstraint(
                fields=["rule", "submission"],
                condition=Q(proof__isnull=True),
                name="fraudlog_once_per_submission",
            ),
            models.UniqueConstraint(
                fields=["rule", "proof"],
                condition=Q(proof__isnull=False),
                name="fraudlog_once_per_proof",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def summary(self) -> str:
        """One line for the review page: what was found, with the numbers."""
        return summarize(self.rule, self.details)


def summarize(rule: str, details: dict[str, Any]) -> str:
    if rule == Rule.SUBMISSIONS_PER_HOUR:
        return f"{details['count']} submissions by this buyer in an hour (limit {details['limit']})"
    if rule == Rule.PROOFS_PER_HOUR:
        return f"{details['count']} proofs by this buyer in an hour (limit {details['limit']})"
    if rule == Rule.AMOUNT_OVER_LIMIT:
        currency = details["currency"]
        return (
            f"amount {format_money(details['amount_minor'], currency)} over the limit "
            f"{format_money(details['limit_minor'], currency)}"
        )
    codes = ", ".join(match["submission_code"] for match in details.get("matches", []))
    if rule == Rule.SHARED_PROOF_FILE:
        return f"same file as {details['other_buyers']} other buyer(s): {codes}"
    reference, others = details["reference"], details["other_buyers"]
    return f"reference {reference} also on {others} other buyer(s): {codes}"
