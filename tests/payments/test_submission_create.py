from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from payments.exceptions import PaymentRuleViolation
from payments.models import Submission, SubmissionLine
from payments.services import LineRequest, submission_create
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    PaymentMethodFactory,
    UserFactory,
)


@pytest.fixture
def order_with_items(db: None) -> tuple:
    order = GroupOrderFactory()
    album = GroupOrderItemFactory(group_order=order, name="Album", unit_price_minor=95_000)
    card = GroupOrderItemFactory(group_order=order, name="Photocard", unit_price_minor=35_050)
    method = PaymentMethodFactory(owner=order.owner)
    order.accepted_methods.add(method)
    return order, album, card, method


def _place(order, lines, **overrides) -> Submission:
    buyer = overrides.pop("buyer", None) or UserFactory()
    arguments = {
        "actor": buyer,
        "group_order": order,
        "buyer": buyer,
        "buyer_name": " Ana Cruz ",
        "lines": lines,
        "terms_accepted": True,
        "ip_address": "203.0.113.7",
    }
    arguments.update(overrides)
    return submission_create(**arguments)


def test_submission_is_priced_from_the_items_and_records_terms(order_with_items: tuple) -> None:
    order, album, card, method = order_with_items
    submission = _place(
        order, [LineRequest(album.pk, 2), LineRequest(card.pk, 3)], payment_method=method
    )
    assert submission.amount_due_minor == 2 * 95_000 + 3 * 35_050
    assert (submission.currency, submission.status, submission.version) == (
        "PHP",
        "pending_payment",
        1,
    )
    assert submission.buyer_name == "Ana Cruz"
    assert (submission.terms_version, submission.terms_accepted_ip) == ("2026-11", "203.0.113.7")
    assert submission.terms_accepted_at is not None
    lines = list(
        SubmissionLine.objects.filter(submission=submission).values_list(
            "description", "quantity", "unit_price_minor"
        )
    )
    assert lines == [("Album", 2, 95_000), ("Photocard", 3, 35_050)]
    event = AuditEvent.objects.get(action="submission.created")
    assert event.after == {"amount_due_minor": 295_150, "currency": "PHP"}
    assert submission.history.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("closed", "This group order no longer takes orders."),
        ("past_deadline", "This group order no longer takes orders."),
        ("no_terms", "The terms must be accepted to place an order."),
        ("zero_quantity", "Choose at least one item, each with a quantity of 1 or more."),
        ("foreign_item", "One of the chosen items is not available in this order."),
        ("foreign_method", "This group order does not accept that payment method."),
        ("over_limit", "This order is over the amount a single payment may carry."),
    ],
)
def test_refused_submission_writes_nothing(
    order_with_items: tuple, change: str, message: str
) -> None:
    order, album, _card, _method = order_with_items
    lines = [LineRequest(album.pk, 1)]
    overrides: dict = {}
    if change == "closed":
        order.status = "closed"
        order.save()
    elif change == "past_deadline":
        order.order_deadline = timezone.now() - timedelta(minutes=1)
        order.save()
    elif change == "no_terms":
        overrides["terms_accepted"] = False
    elif change == "zero_quantity":
        lines = [LineRequest(album.pk, 0)]
    elif change == "foreign_item":
        lines = [LineRequest(GroupOrderItemFactory().pk, 1)]
    elif change == "foreign_method":
        overrides["payment_method"] = PaymentMethodFactory()
    elif change == "over_limit":
        lines = [LineRequest(album.pk, 106)]  # 106 × ₱950 = ₱100,700 > ₱100,000

    with pytest.raises(PaymentRuleViolation) as raised:
        _place(order, lines, **overrides)

    assert str(raised.value) == message
    assert Submission.objects.count() == 0
    assert SubmissionLine.objects.count() == 0
    assert AuditEvent.objects.filter(action="submission.created").count() == 0


def test_a_methods_monthly_receiving_limit_is_enforced_when_placing(
    order_with_items: tuple,
) -> None:
    from payments.models import Payment
    from payments.money.services import payment_record

    order, album, card, method = order_with_items
    method.monthly_limit_minor = 300_000
    method.save(update_fields=["monthly_limit_minor"])
    paid = _place(order, [LineRequest(album.pk, 1)], payment_method=method)
    for key, paid_at in (
        ("this-month", timezone.now()),
        ("last-month", timezone.now() - timedelta(days=40)),
    ):
        payment_record(
            actor=order.owner,
            buyer=paid.buyer,
            group_order=order,
            currency="PHP",
            amount_minor=95_000 if key == "this-month" else 250_000,
            method_type="gcash",
            source=Payment.Source.MANUAL,
            paid_at=paid_at,
            idempotency_key=key,
            allocations=[(paid, 95_000)] if key == "this-month" else [],
            payment_method=method,
        )
    # Received this month 950.00 (last month's 2,500.00 does not count) + owed 1,900.00.
    _place(order, [LineRequest(album.pk, 2)], payment_method=method)
    # 950.00 + 1,900.00 + 150.00 is exactly the limit: still taken.
    exact = GroupOrderItemFactory(group_order=order, name="Sticker", unit_price_minor=15_000)
    _place(order, [LineRequest(exact.pk, 1)], payment_method=method)
    before = (Submission.objects.count(), AuditEvent.objects.count())

    with pytest.raises(PaymentRuleViolation, match="monthly receiving limit"):
        _place(order, [LineRequest(card.pk, 1)], payment_method=method)

    assert (Submission.objects.count(), AuditEvent.objects.count()) == before
    # Without a method (or with another one) the order is taken.
    assert _place(order, [LineRequest(card.pk, 1)]).amount_due_minor == 35_050
