from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health and metrics. It reads every app, so it sits on top of the chain."""

    name = "ops"
    verbose_name = "Operations"
