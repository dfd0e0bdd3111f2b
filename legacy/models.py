"""Import batches from the earlier GOMFLOW platform and the map from its ids to ours.

The map is what makes an import repeatable and reversible: a legacy row already in it is never
imported again, and a batch's rollback deletes exactly the objects its ``created`` rows name.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        IMPORTED = "imported", _("Imported")
        ROLLED_BACK = "rolled_back", _("Rolled back")

    name = models.CharField(_("name"), max_length=100, unique=True)
    source = models.CharField(
        _("source"), max_length=300, help_text=_("The source database, without its password.")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.IMPORTED
    )
    report = models.JSONField(_("report"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    rolled_back_at = models.DateTimeField(_("rolled back at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("import batches")

    def __str__(self) -> str:
        return self.name


class LegacyIdMap(models.Model):
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="id_maps")
    legacy_table = models.CharField(_("legacy table"), max_length=64)
    legacy_id = models.CharField(_("legacy id"), max_length=100)
    target_model = models.CharField(_("target model"), max_length=100)
    target_id = models.CharField(_("target id"), max_length=64)
    # False when the legacy row was matched to an object that already existed (an account with
    # the same e-mail, a duplicate payment method): rollback leaves such objects alone.
    created = models.BooleanField(_("created by this batch"))
    details = models.JSONField(
        _("legacy details"),
        default=dict,
        blank=True,
        help_text=_("Legacy fields with no place in our schema (slug, min/max orders, reference)."),
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["legacy_table", "legacy_id", "target_model"],
                name="legacyidmap_one_target_per_legacy_row",
            ),
        ]
        indexes = [models.Index(fields=["target_model", "target_id"])]

    def __str__(self) -> str:
        return f"{self.legacy_table}/{self.legacy_id} → {self.target_model}/{self.target_id}"
