"""A buyer signs up, places an order, sees how to pay and follows the status, on a phone."""

import pytest
from playwright.sync_api import Page, expect

from payments.models import Submission
from tests.e2e.conftest import horizontal_overflow, screenshot, serious_accessibility_violations
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    PaymentMethodFactory,
    StaffFactory,
)


@pytest.mark.django_db(transaction=True)
def test_buyer_signs_up_orders_and_sees_how_to_pay(live_server: object, phone: Page) -> None:
    gom = StaffFactory(full_name="Bea Santos")
    order = GroupOrderFactory(owner=gom, title="FML album GO")
    album = GroupOrderItemFactory(group_order=order, name="Album", unit_price_minor=95_000)
    gcash = PaymentMethodFactory(owner=gom, display_name="GCash", account_number="09171234567")
    order.accepted_methods.set([gcash])
    base = live_server.url  # type: ignore[attr-defined]
    pages_checked = {}

    phone.goto(f"{base}/signup/")
    pages_checked["signup"] = phone.url
    phone.get_by_label("E-mail address").fill("ana@example.test")
    phone.get_by_label("Your name").fill("Ana Cruz")
    phone.get_by_label("Password", exact=True).fill("a-long-enough-pass-91")
    phone.get_by_label("Password confirmation").fill("a-long-enough-pass-91")
    phone.get_by_role("button", name="Create account").click()
    expect(phone.get_by_role("heading", name="My orders")).to_be_visible()

    phone.goto(f"{base}/o/{order.pk}/")
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "buyer-group-order-360")
    assert serious_accessibility_violations(phone) == []
    phone.get_by_label("Album").fill("2")
    phone.get_by_label("GCash").check()
    phone.get_by_label("I accept the terms of this group order.").check()
    phone.get_by_role("button", name="Place order").click()

    expect(phone.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(phone.locator("#amount")).to_have_text("₱1,900.00")
    expect(phone.locator(".countdown")).to_contain_text("left")
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "buyer-pay-360")
    assert serious_accessibility_violations(phone) == []

    submission = Submission.objects.get()
    assert (submission.amount_due_minor, submission.buyer.email) == (190_000, "ana@example.test")
    assert submission.lines.get().item == album

    phone.get_by_role("link", name="See the status of this order").click()
    expect(phone.locator(".timeline li")).to_have_count(1)
    expect(phone.locator(".status")).to_have_text("Waiting for payment")
    assert horizontal_overflow(phone) == 0
    screenshot(phone, "buyer-status-360")
    assert serious_accessibility_violations(phone) == []
