from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = "Fraud checks"

    def ready(self) -> None:
        # Registers the tasks in every process, so the payments and verification hooks can
        # enqueue them by name (they may not import this app) and eager mode still runs them.
        from fraud import tasks  # noqa: F401
