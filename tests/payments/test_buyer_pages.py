"""Buyer pages: the order page, placing a submission, paying and the status timeline."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from payments.models import Submission
from payments.services import submission_transition
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    PaymentMethodFactory,
    StaffFactory,
    SubmissionFactory,
    UserFactory,
)


@pytest.fixture
def shop(db: None) -> dict:
    gom = StaffFactory(full_name="Bea Santos")
    order = GroupOrderFactory(owner=gom, title="FML album GO")
    album = GroupOrderItemFactory(group_order=order, name="Album", unit_price_minor=95_000)
    card = GroupOrderItemFactory(group_order=order, name="Photocard", unit_price_minor=35_000)
    gcash = PaymentMethodFactory(owner=gom, display_name="GCash", account_number="09171234567")
    maya = PaymentMethodFactory(
        owner=gom,
        template_code="ph-maya",
        method_type="maya",
        display_name="Maya",
        account_number="09181234567",
    )
    paused = PaymentMethodFactory(owner=gom, display_name="Old GCash", is_active=False)
    order.accepted_methods.set([gcash, maya, paused])
    return {
        "gom": gom,
        "order": order,
        "album": album,
        "card": card,
        "gcash": gcash,
        "maya": maya,
        "paused": paused,
    }


def _order_form(shop: dict, **changes: str) -> dict:
    data = {
        f"qty_{shop['album'].pk}": "2",
        f"qty_{shop['card'].pk}": "1",
        "buyer_name": "Ana Cruz",
        "buyer_phone": "0917 000 0000",
        "payment_method": str(shop["maya"].pk),
        "accept_terms": "on",
    }
    data.update(changes)
    return data


def test_order_page_lists_items_deadlines_and_only_active_methods(
    client: Client, shop: dict
) -> None:
    page = client.get(reverse("payments:group-order", args=[shop["order"].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "FML album GO" in html
    assert "₱950.00" in html
    assert "₱350.00" in html
    assert "Asia/Manila" in html
    assert "Maya" in html
    assert "Old GCash" not in html
    assert "Sign in to order" in html


def test_archived_orders_are_not_shown(client: Client, shop: dict) -> None:
    shop["order"].status = "archived"
    shop["order"].save()
    assert client.get(reverse("payments:group-order", args=[shop["order"].pk])).status_code == 404


def test_buyer_places_a_submission_and_is_sent_the_instructions(
    client: Client, shop: dict, django_capture_on_commit_callbacks: object
) -> None:
    buyer = UserFactory(email="ana@example.test")
    client.force_login(buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("payments:group-order", args=[shop["order"].pk]),
            _order_form(shop),
            REMOTE_ADDR="203.0.113.5",
        )
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("payments:submission-pay", args=[submission.code])
    assert submission.amount_due_minor == 2 * 95_000 + 35_000
    assert (submission.buyer, submission.payment_method) == (buyer, shop["maya"])
    assert submission.terms_accepted_ip == "203.0.113.5"
    assert submission.payment_instructions_sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@example.test"]
    assert message.subject == f"Your order {submission.code}: how to pay"
    assert "Amount to pay: ₱2,250.00" in message.body
    assert "- Maya: SAMPLE GOM, 09181234567" in message.body
    assert f"/s/{submission.code}/pay/" in message.body
    assert "₱2,250.00" in message.alternatives[0][0]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"accept_terms": ""}, "Accept the terms to place your order."),
        ({"qty_album": "0", "qty_card": "0"}, "Choose at least one item."),
        ({"payment_method": "paused"}, "Select a valid choice."),
        ({"qty_album": "-1"}, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_order_forms_are_refused_with_a_reason(
    client: Client, shop: dict, changes: dict, error: str
) -> None:
    client.force_login(UserFactory())
    mapped = {}
    for key, value in changes.items():
        if key == "qty_album":
            mapped[f"qty_{shop['album'].pk}"] = value
        elif key == "qty_card":
            mapped[f"qty_{shop['card'].pk}"] = value
        elif value == "paused":
            mapped[key] = str(shop["paused"].pk)
        else:
            mapped[key] = value
    response = client.post(
        reverse("payments:group-order", args=[shop["order"].pk]), _order_form(shop, **mapped)
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Submission.objects.count() == 0
    assert len(mail.outbox) == 0


def test_anonymous_post_goes_to_login_and_writes_nothing(client: Client, shop: dict) -> None:
    response = client.post(
        reverse("payments:group-order", args=[shop["order"].pk]), _order_form(shop)
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert Submission.objects.count() == 0


def test_last_used_method_is_preselected(client: Client, shop: dict) -> None:
    buyer = UserFactory()
    SubmissionFactory(buyer=buyer, group_order=shop["order"], payment_method=shop["gcash"])
    client.force_login(buyer)
    form = client.get(reverse("payments:group-order", args=[shop["order"].pk])).context["form"]
    assert form["payment_method"].value() == shop["gcash"].pk


def test_pay_page_shows_the_amount_and_every_method_with_copy_buttons(
    client: Client, shop: dict
) -> None:
    buyer = UserFactory()
    submission = SubmissionFactory(
        buyer=buyer,
        group_order=shop["order"],
        amount_due_minor=225_000,
        payment_method=shop["maya"],
    )
    client.force_login(buyer)
    html = client.get(reverse("payments:submission-pay", args=[submission.code])).content.decode()
    assert "₱2,250.00" in html
    assert 'data-copy="2250.00"' in html
    assert 'data-copy="09171234567"' in html
    assert 'data-copy="09181234567"' in html
    assert html.index("Maya") < html.index("09171234567")  # the buyer's choice comes first
    assert "Old GCash" not in html
    assert 'class="countdown"' in html
    # Each card says what the provider charges (the default fee rules).
    assert html.count('<dt>Provider fee</dt><dd class="fee">') == 2
    assert '<dd class="fee">2.5% + ₱15.00</dd>' in html
    assert '<dd class="fee">3.5% + ₱10.00</dd>' in html


@pytest.mark.parametrize("page", ["payments:submission-pay", "buyer:submission-status"])
def test_another_buyers_submission_is_a_404(client: Client, shop: dict, page: str) -> None:
    submission = SubmissionFactory(group_order=shop["order"])
    client.force_login(UserFactory())
    assert client.get(reverse(page, args=[submission.code])).status_code == 404
    assert client.get(reverse(page, args=["NOSUCHCODE"])).status_code == 404


def test_status_timeline_shows_each_step_and_the_rejection_reason(
    client: Client, shop: dict
) -> None:
    buyer = UserFactory()
    submission = SubmissionFactory(buyer=buyer, group_order=shop["order"])
    submission_transition(actor=buyer, submission=submission, target="proof_submitted")
    submission_transition(
        actor=shop["gom"], submission=submission, target="rejected", notes="Amount does not match"
    )
    client.force_login(buyer)
    response = client.get(reverse("buyer:submission-status", args=[submission.code]))
    timeline = [event["status"] for event in response.context["timeline"]]
    assert timeline == ["pending_payment", "proof_submitted", "rejected"]
    html = response.content.decode()
    assert "Reason: Amount does not match" in html
    assert "How to pay" in html


def test_pay_page_says_which_method_is_past_its_monthly_limit(client: Client, shop: dict) -> None:
    shop["gcash"].monthly_limit_minor = 300_000
    shop["gcash"].save(update_fields=["monthly_limit_minor"])
    other = UserFactory()
    owing = SubmissionFactory(
        buyer=other,
        group_order=shop["order"],
        amount_due_minor=250_000,
        payment_method=shop["gcash"],
    )
    buyer = UserFactory()
    submission = SubmissionFactory(
        buyer=buyer,
        group_order=shop["order"],
        amount_due_minor=225_000,
        payment_method=shop["maya"],
    )
    note = "This account has reached what it may receive this month"

    client.force_login(buyer)
    html = client.get(reverse("payments:submission-pay", args=[submission.code])).content.decode()
    # 2,500.00 owed to the GCash account + 2,250.00 would pass its 3,000.00: only GCash says so.
    assert html.count(note) == 1
    assert html.index(note) > html.index(">GCash<")

    # The buyer who chose GCash is counted once, not twice: within the limit.
    client.force_login(other)
    html = client.get(reverse("payments:submission-pay", args=[owing.code])).content.decode()
    assert note not in html
