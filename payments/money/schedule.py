"""A submission's payment schedule, derived from its group order's timing and what was paid.

Nothing is stored: the parts follow from the amount due and the order's settings, and paid money
fills them in order, so the schedule can never disagree with the allocations.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.money import percent_of
from payments.models import PaymentTiming, Submission


@dataclass(frozen=True)
class SchedulePart:
    number: int
    label: str
    due_at: datetime
    amount_minor: int
    paid_minor: int

    @property
    def outstanding_minor(self) -> int:
        return self.amount_minor - self.paid_minor

    @property
    def is_paid(self) -> bool:
        return self.paid_minor == self.amount_minor


def _parts(submission: Submission) -> list[tuple[str, datetime, int]]:
    order = submission.group_order
    due = submission.amount_due_minor
    if order.payment_timing == PaymentTiming.DEPOSIT and order.deposit_percent:
        deposit = percent_of(due, order.deposit_percent * 100)
        return [
            ("Deposit", order.order_deadline, deposit),
            ("Balance", order.payment_deadline, due - deposit),
        ]
    if order.payment_timing == PaymentTiming.INSTALLMENTS and order.installment_count:
        count = order.installment_count
        base, remainder = divmod(due, count)
        interval = timedelta(days=order.installment_interval_days)
        # The last part is due on the payment deadline; the cents that do not divide go first.
        return [
            (
                f"Installment {index + 1} of {count}",
                order.payment_deadline - interval * (count - 1 - index),
                base + (remainder if index == 0 else 0),
            )
            for index in range(count)
        ]
    return [("Full payment", order.payment_deadline, due)]


def submission_schedule(submission: Submission) -> list[SchedulePart]:
    """Return the submission's parts with what has been paid on each, filled in order."""
    paid = submission.paid_minor
    schedule = []
    for number, (label, due_at, amount) in enumerate(_parts(submission), start=1):
        on_part = min(paid, amount)
        paid -= on_part
        schedule.append(SchedulePart(number, label, due_at, amount, on_part))
    return schedule


def submission_next_due(submission: Submission) -> SchedulePart | None:
    """Return the first part not fully paid, or None when the submission is paid."""
    return next((part for part in submission_schedule(submission) if not part.is_paid), None)
