from django.db import models
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    """One thing to do after a commit (an e-mail, a notification), kept until it is done.

    Written in the same transaction as the change it announces, so a broker outage delays it
    but never loses it: the drain task finds what was not delivered and sends it.
    """

    topic = models.CharField(_("topic"), max_length=64)
    payload = models.JSONField(_("payload"))
    key = models.CharField(_("key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # A worker claims a message for a while; if it dies, the claim lapses and another retries.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The drain scans only what is still to deliver.
            models.Index(
                fields=["created_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="outbox_undelivered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
