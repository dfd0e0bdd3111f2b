"""Buyer pages that move money: paying with store credit, asking for a refund, the wallet."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.demo import record_demo_payment
from payments.models import Payment, Refund, Submission
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from wallet.models import Wallet
from wallet.services import wallet_grant_credit


@pytest.fixture
def buyer_with_credit(db: None) -> dict:
    gom = StaffFactory(full_name="Bea Santos")
    order = GroupOrderFactory(owner=gom)
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=150_000)
    wallet_grant_credit(
        actor=gom,
        buyer=buyer,
        issuer=gom,
        currency="PHP",
        amount_minor=100_000,
        kind="goodwill",
        description="Sorry for the delay",
        idempotency_key="grant-1",
        expires_at=timezone.now() + timedelta(days=30),
    )
    return {"gom": gom, "order": order, "buyer": buyer, "submission": submission}


def test_status_page_offers_the_credit_and_paying_with_it_is_safe_to_repeat(
    client: Client, buyer_with_credit: dict
) -> None:
    buyer, submission = buyer_with_credit["buyer"], buyer_with_credit["submission"]
    client.force_login(buyer)
    page = client.get(reverse("buyer:submission-status", args=[submission.code]))
    html = page.content.decode()
    assert "Pay with my store credit (₱1,000.00)" in html
    token = page.context["form_token"]
    url = reverse("payments:submission-credit", args=[submission.code])

    first = client.post(url, {"form_token": token})
    again = client.post(url, {"form_token": token})  # a double click

    assert first.status_code == again.status_code == 302
    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.paid_minor, stored.status) == (100_000, "partially_paid")
    assert Payment.objects.filter(source=Payment.Source.WALLET).count() == 1
    assert Wallet.objects.get(buyer=buyer).balance_minor == 0
    follow = client.get(reverse("buyer:submission-status", args=[submission.code]))
    assert "₱1,000.00 of store credit paid this order." in follow.content.decode()
    assert "Pay with my store credit" not in follow.content.decode()


def test_paying_with_credit_without_a_token_changes_nothing(
    client: Client, buyer_with_credit: dict
) -> None:
    client.force_login(buyer_with_credit["buyer"])
    code = buyer_with_credit["submission"].code
    response = client.post(reverse("payments:submission-credit", args=[code]), {}, follow=True)
    assert "The form expired; please try again." in response.content.decode()
    assert Payment.objects.count() == 0


def test_another_buyer_cannot_spend_on_someone_elses_submission(
    client: Client, buyer_with_credit: dict
) -> None:
    client.force_login(UserFactory())
    code = buyer_with_credit["submission"].code
    response = client.post(reverse("payments:submission-credit", args=[code]), {"form_token": "x"})
    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_wallet_page_shows_balance_grants_and_history(
    client: Client, buyer_with_credit: dict
) -> None:
    client.force_login(buyer_with_credit["buyer"])
    html = client.get(reverse("wallet:wallet")).content.decode()
    assert "With Bea Santos" in html
    assert "Balance: <strong>₱1,000.00</strong>" in html
    assert "Sorry for the delay" in html
    assert html.count("<tr><td><time") == 1  # one ledger line: the grant


def test_wallet_page_of_a_buyer_without_credit(client: Client, db: None) -> None:
    client.force_login(UserFactory())
    assert "You have no store credit yet." in client.get(reverse("wallet:wallet")).content.decode()


@pytest.fixture
def paid(db: None) -> dict:
    gom = StaffFactory()
    order = GroupOrderFactory(owner=gom)
    buyer = UserFactory()
    submission = SubmissionFactory(group_order=order, buyer=buyer, amount_due_minor=100_000)
    payment = record_demo_payment(gom=gom, submission=submission, amount_minor=100_000)
    return {"gom": gom, "buyer": buyer, "submission": submission, "payment": payment}


def test_buyer_asks_for_a_partial_refund_to_store_credit(client: Client, paid: dict) -> None:
    client.force_login(paid["buyer"])
    url = reverse("payments:submission-refund", args=[paid["submission"].code])
    form = client.get(url)
    token = form.context["form"].initial["form_token"]

    data = {
        "amount": "350.00",
        "reason": "item_unavailable",
        "destination": "wallet",
        "details": "Version B sold out",
        "form_token": token,
    }
    response = client.post(url, data)
    repeat = client.post(url, data)

    assert response.status_code == repeat.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.status, refund.destination) == (
        35_000,
        "requested",
        "wallet",
    )
    assert refund.payment == paid["payment"]
    assert Payment.objects.get(pk=paid["payment"].pk).refund_reserved_minor == 35_000


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("abc", "“abc” is not an amount"),
        ("1.234", "“1.234” has more than 2 decimals"),
        ("0", "Enter an amount above zero."),
        ("1000.01", "At most ₱1,000.00 more can be refunded on submission"),
    ],
)
def test_bad_refund_amounts_are_refused_with_the_reason(
    client: Client, paid: dict, amount: str, error: str
) -> None:
    client.force_login(paid["buyer"])
    url = reverse("payments:submission-refund", args=[paid["submission"].code])
    response = client.post(
        url,
        {
            "amount": amount,
            "reason": "item_unavailable",
            "destination": "wallet",
            "form_token": "t1",
        },
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Refund.objects.count() == 0
    assert Payment.objects.get(pk=paid["payment"].pk).refund_reserved_minor == 0


def test_nothing_to_refund_on_an_unpaid_submission(client: Client, db: None) -> None:
    buyer = UserFactory()
    submission = SubmissionFactory(buyer=buyer)
    client.force_login(buyer)
    response = client.get(
        reverse("payments:submission-refund", args=[submission.code]), follow=True
    )
    assert (
        "Nothing has been paid on this order that could be refunded." in response.content.decode()
    )
