"""Payment timing: full, deposit and installment schedules filled by what was paid."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.money.schedule import submission_next_due, submission_schedule
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.money.helpers import record

pytestmark = pytest.mark.django_db

ORDER_DEADLINE = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
PAYMENT_DEADLINE = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


def _submission(**order_fields):  # type: ignore[no-untyped-def]
    order = GroupOrderFactory(
        order_deadline=ORDER_DEADLINE, payment_deadline=PAYMENT_DEADLINE, **order_fields
    )
    return SubmissionFactory(group_order=order, buyer=UserFactory(), amount_due_minor=100_001)


def _rows(submission):  # type: ignore[no-untyped-def]
    submission.refresh_from_db()
    return [
        (part.label, part.due_at, part.amount_minor, part.paid_minor)
        for part in submission_schedule(submission)
    ]


def test_full_payment_is_one_part() -> None:
    submission = _submission()
    assert _rows(submission) == [("Full payment", PAYMENT_DEADLINE, 100_001, 0)]


def test_deposit_then_balance_filled_in_order() -> None:
    submission = _submission(payment_timing="deposit", deposit_percent=30)
    assert _rows(submission) == [
        ("Deposit", ORDER_DEADLINE, 30_000, 0),  # 30% of 1,000.01 rounds half up to 300.00
        ("Balance", PAYMENT_DEADLINE, 70_001, 0),
    ]
    record([(submission, 40_000)], 40_000)
    assert _rows(submission) == [
        ("Deposit", ORDER_DEADLINE, 30_000, 30_000),
        ("Balance", PAYMENT_DEADLINE, 70_001, 10_000),
    ]
    submission.refresh_from_db()
    assert submission.status == "partially_paid"
    due = submission_next_due(submission)
    assert (due.label, due.outstanding_minor) == ("Balance", 60_001)


def test_installments_spaced_back_from_the_deadline() -> None:
    submission = _submission(
        payment_timing="installments", installment_count=3, installment_interval_days=30
    )
    assert _rows(submission) == [
        ("Installment 1 of 3", PAYMENT_DEADLINE - timedelta(days=60), 33_335, 0),
        ("Installment 2 of 3", PAYMENT_DEADLINE - timedelta(days=30), 33_333, 0),
        ("Installment 3 of 3", PAYMENT_DEADLINE, 33_333, 0),
    ]
    record([(submission, 33_335)], 33_335, key="one")
    record([(submission, 40_000)], 40_000, key="two")
    assert [row[3] for row in _rows(submission)] == [33_335, 33_333, 6_667]
    submission.refresh_from_db()
    due = submission_next_due(submission)
    assert (due.number, due.outstanding_minor) == (3, 26_666)
    record([(submission, 26_666)], 26_666, key="three")
    submission.refresh_from_db()
    assert submission_next_due(submission) is None
    assert submission.status == "verified"
