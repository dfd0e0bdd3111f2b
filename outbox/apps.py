from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """A transactional outbox: messages written with the change they announce, sent after.

    It sits at the bottom of the dependency chain beside audit and imports no other app;
    consumers register a handler for their topic.
    """

    name = "outbox"
    verbose_name = "Outbox"

    def ready(self) -> None:
        from outbox.registry import register
        from outbox.tasks_topic import TOPIC

        register(TOPIC, "outbox.tasks_topic.deliver_task")
