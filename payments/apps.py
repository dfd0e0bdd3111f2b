from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from outbox.registry import register

        register("email.buyer", "payments.notifications.deliver_buyer_email")
        register("email.gom", "payments.notifications.deliver_gom_email")
