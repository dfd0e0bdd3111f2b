class PaymentsError(Exception):
    """Base of the payments app's business errors; the message is fit to show a person."""


class InvalidTransition(PaymentsError):
    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"A submission cannot go from {current} to {target}.")


class ConcurrentUpdate(PaymentsError):
    """Someone else changed the object first; nothing was written."""


class PaymentRuleViolation(PaymentsError):
    """A business rule refused the change (closed order, wrong currency, over the limit…)."""
