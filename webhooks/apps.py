from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks to GOMs' own systems: payments → webhooks → audit."""

    name = "webhooks"
    verbose_name = "Webhooks"
