class WalletError(Exception):
    """Base of the wallet's business errors; the message is fit to show a person."""


class InsufficientCredit(WalletError):
    """The buyer's unexpired credit does not cover the amount asked for; nothing was spent."""


class IdempotencyConflict(WalletError):
    """An idempotency key was reused for a different operation; nothing was written."""


class WalletRuleViolation(WalletError):
    """A rule refused the change (non-positive amount, unknown operation, already reversed…)."""
