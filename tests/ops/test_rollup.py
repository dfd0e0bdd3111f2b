"""The daily metrics roll-up: exact figures for a seeded day, re-runs, and the UTC+8 day's edges."""

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from PIL import Image

from ops.models import DailyMetric
from ops.rollup import business_date, day_bounds, metrics_roll_up, metrics_roll_up_recent
from ops.tasks import roll_up_metrics_task
from payments.models import Refund, Submission
from payments.money import services as money
from tests.conftest import Personas
from tests.factories import GroupOrderFactory, SubmissionFactory
from tests.money.helpers import grant, record
from verification.decisions import submission_approve, submission_reject
from verification.services import proof_submit

DAY = date(2026, 11, 20)
# Midnight in Manila (UTC+8) is 16:00 UTC the evening before.
START = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)

FIGURES = [
    "submissions_placed",
    "submissions_due_minor",
    "proofs_received",
    "proofs_approved",
    "proofs_approved_minor",
    "proofs_rejected",
    "proofs_reupload_requested",
    "payments_count",
    "payments_minor",
    "fees_minor",
    "payments_voided_count",
    "payments_voided_minor",
    "allocated_minor",
    "credited_minor",
    "refunds_paid_count",
    "refunds_paid_minor",
    "credit_granted_minor",
    "credit_used_minor",
    "credit_expired_minor",
]


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def _upload(submission: Submission, colour: str) -> None:
    proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(_png(colour)),
        original_name="receipt.png",
    )


def _row(day: date, currency: str) -> dict[str, int]:
    metric = DailyMetric.objects.get(date=day, currency=currency)
    return {name: getattr(metric, name) for name in FIGURES}


def _zero(**figures: int) -> dict[str, int]:
    return {**dict.fromkeys(FIGURES, 0), **figures}


@pytest.fixture
def seeded_day(personas: Personas) -> Personas:
    """A day in Manila with something of everything, and events just outside its edges."""
    order = personas.order
    with _at(START - ONE_SECOND):  # 23:59:59 on the 19th in Manila
        SubmissionFactory(group_order=order, amount_due_minor=11_111)
    with _at(START):  # 00:00:00 on the 20th
        first = SubmissionFactory(group_order=order, amount_due_minor=125_000)
    with _at(START + timedelta(hours=2)):
        second = SubmissionFactory(group_order=order, amount_due_minor=80_000)
        third = SubmissionFactory(group_order=order, amount_due_minor=200_000)
        fourth = SubmissionFactory(group_order=order, buyer=third.buyer, amount_due_minor=60_000)
        ringgit = SubmissionFactory(
            group_order=GroupOrderFactory(country="MY", currency="MYR"), amount_due_minor=4_550
        )
    with _at(START + timedelta(hours=3)):
        _upload(first, "red")
        _upload(second, "blue")
    with _at(START + timedelta(hours=4)):
        # Overpaid by 5,000: that part becomes store credit.
        assert submission_approve(
            actor=personas.owner, submission_id=first.pk, amount_minor=130_000
        ).is_done
        assert submission_reject(
            actor=personas.owner, submission_id=second.pk, reason_code="unreadable"
        ).is_done
    with _at(START + timedelta(hours=5)):
        payment = record(  # GCash: 3.5% + 10.00
            [(third, 100_000)], 100_000, key="rollup-manual", paid_at=START + timedelta(hours=5)
        )
        refund = money.refund_request(
            actor=third.buyer,
            payment=payment,
            amount_minor=30_000,
            destination=Refund.Destination.WALLET,
            reason="item_unavailable",
            idempotency_key="rollup-refund",
            submission=third,
        )
        money.refund_approve(actor=personas.owner, refund=refund)
        grant(ringgit.buyer, ringgit.group_order.owner, 2_000, key="rollup-myr", currency="MYR")
    with _at(END - ONE_SECOND):  # 23:59:59 on the 20th: still the 20th
        money.wallet_apply_credit(
            actor=third.buyer, submission=fourth, amount_minor=12_000, idempotency_key="rollup-use"
        )
    with _at(END):  # midnight: the 21st
        late = SubmissionFactory(group_order=order, amount_due_minor=22_222)
        record([(late, 22_222)], 22_222, key="rollup-next", method_type="cash", paid_at=END)
    return personas


def test_day_bounds_are_midnight_to_midnight_in_manila() -> None:
    assert day_bounds(DAY) == (START, END)
    assert business_date(START) == DAY
    assert business_date(START - ONE_SECOND) == date(2026, 11, 19)
    assert business_date(END - ONE_SECOND) == DAY
    assert business_date(END) == date(2026, 11, 21)


@pytest.mark.django_db
def test_seeded_day_gives_exact_figures(seeded_day: Personas) -> None:
    rows = metrics_roll_up(day=DAY)
    assert [(row.date, row.currency) for row in rows] == [(DAY, "MYR"), (DAY, "PHP")]
    assert _row(DAY, "PHP") == _zero(
        submissions_placed=4,  # 00:00:00 and three at 02:00; not 23:59:59 the day before
        submissions_due_minor=125_000 + 80_000 + 200_000 + 60_000,
        proofs_received=2,
        proofs_approved=1,
        proofs_approved_minor=130_000,
        proofs_rejected=1,
        payments_count=3,  # the approved proof, the manual payment, the store credit used
        payments_minor=130_000 + 100_000 + 12_000,
        fees_minor=3_500 + 1_000,  # the manual GCash payment; the proof's had no method
        allocated_minor=125_000 + 100_000 + 12_000,
        credited_minor=5_000,
        refunds_paid_count=1,
        refunds_paid_minor=30_000,
        credit_granted_minor=5_000 + 30_000,  # the overpayment and the refund to the wallet
        credit_used_minor=12_000,  # at 23:59:59
    )
    assert _row(DAY, "MYR") == _zero(
        submissions_placed=1, submissions_due_minor=4_550, credit_granted_minor=2_000
    )


@pytest.mark.django_db
def test_neighbouring_days_get_only_what_happened_on_them(seeded_day: Personas) -> None:
    metrics_roll_up(day=date(2026, 11, 19))
    metrics_roll_up(day=date(2026, 11, 21))
    assert _row(date(2026, 11, 19), "PHP") == _zero(
        submissions_placed=1, submissions_due_minor=11_111
    )
    assert _row(date(2026, 11, 21), "PHP") == _zero(
        submissions_placed=1,
        submissions_due_minor=22_222,
        payments_count=1,
        payments_minor=22_222,
        allocated_minor=22_222,
    )
    assert _row(date(2026, 11, 21), "MYR") == _zero()


@pytest.mark.django_db
def test_running_again_rewrites_the_same_rows(seeded_day: Personas) -> None:
    with _at(END + timedelta(minutes=20)):
        first = metrics_roll_up(day=DAY)
    snapshot = list(DailyMetric.objects.order_by("pk").values())
    with _at(END + timedelta(days=1)):
        second = metrics_roll_up(day=DAY)
    assert [row.pk for row in second] == [row.pk for row in first]
    assert DailyMetric.objects.count() == 2
    again = list(DailyMetric.objects.order_by("pk").values())
    # Only the time of computing moves.
    for row in (*snapshot, *again):
        row.pop("computed_at")
    assert again == snapshot


@pytest.mark.django_db
def test_the_task_rolls_up_the_last_two_finished_days(seeded_day: Personas) -> None:
    # 00:20 on the 21st in Manila, when beat runs it.
    with _at(END + timedelta(minutes=20)):
        assert roll_up_metrics_task.delay().get() == ["2026-11-20", "2026-11-19"]
        assert metrics_roll_up_recent(days=1) == [DAY]
    assert sorted(DailyMetric.objects.values_list("date", "currency")) == [
        (date(2026, 11, 19), "MYR"),
        (date(2026, 11, 19), "PHP"),
        (DAY, "MYR"),
        (DAY, "PHP"),
    ]
    assert _row(DAY, "PHP")["payments_minor"] == 242_000


@pytest.mark.django_db
def test_a_voided_payment_counts_on_the_day_it_was_voided(personas: Personas) -> None:
    submission = SubmissionFactory(group_order=personas.order, amount_due_minor=50_000)
    with _at(START + timedelta(hours=1)):
        payment = record(
            [(submission, 50_000)],
            50_000,
            key="void-me",
            method_type="cash",
            paid_at=START + timedelta(hours=1),
        )
    with _at(END + timedelta(hours=1)):
        money.payment_void(actor=personas.owner, payment=payment, reason="Bounced")
    metrics_roll_up(day=DAY)
    metrics_roll_up(day=date(2026, 11, 21))
    assert _row(DAY, "PHP") == _zero(
        payments_count=1, payments_minor=50_000, allocated_minor=50_000
    )
    assert _row(date(2026, 11, 21), "PHP") == _zero(
        payments_voided_count=1, payments_voided_minor=50_000
    )


@pytest.mark.django_db
def test_admin_is_read_only_and_only_for_finance_and_superusers(personas: Personas) -> None:
    metrics_roll_up(day=DAY)
    metric = DailyMetric.objects.get(currency="PHP")
    changelist = reverse("admin:ops_dailymetric_changelist")
    change = reverse("admin:ops_dailymetric_change", args=[metric.pk])
    finance = Client()
    finance.force_login(personas.finance)
    listed = finance.get(changelist)
    assert listed.status_code == 200
    assert "₱0.00" in listed.content.decode()
    assert finance.get(change).status_code == 200
    assert finance.get(reverse("admin:ops_dailymetric_add")).status_code == 403
    assert finance.post(change, {"payments_minor": "1"}).status_code == 403
    assert finance.get(reverse("admin:ops_dailymetric_delete", args=[metric.pk])).status_code == 403
    for persona, status in (("owner", 403), ("assistant", 403), ("buyer", 302)):
        client = Client()
        client.force_login(getattr(personas, persona))
        assert client.get(changelist).status_code == status
    metric.refresh_from_db()
    assert metric.payments_minor == 0
