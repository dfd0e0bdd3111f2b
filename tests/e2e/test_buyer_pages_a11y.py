"""Every buyer page at 360 px: a screenshot kept as an artifact, no sideways scroll, and no
serious or critical axe-core violation."""

import pytest
from playwright.sync_api import Page

from payments.demo import record_demo_payment
from tests.e2e.conftest import horizontal_overflow, screenshot, serious_accessibility_violations
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    PaymentMethodFactory,
    StaffFactory,
    SubmissionFactory,
    UserFactory,
)
from wallet.services import wallet_grant_credit


@pytest.mark.django_db(transaction=True)
def test_every_buyer_page_fits_a_phone_and_passes_axe(live_server: object, phone: Page) -> None:
    gom = StaffFactory(full_name="Bea Santos")
    order = GroupOrderFactory(owner=gom, title="SEVENTEEN 'FML' album group order")
    GroupOrderItemFactory(group_order=order, name="Album (random version)", unit_price_minor=95_000)
    gcash = PaymentMethodFactory(
        owner=gom,
        display_name="GCash",
        account_number="09171234567",
        instructions="Send the exact amount, then upload the receipt.",
    )
    order.accepted_methods.set([gcash])
    buyer = UserFactory(email="ana@example.test", full_name="Ana Cruz")
    unpaid = SubmissionFactory(group_order=order, buyer=buyer, payment_method=gcash)
    paid = SubmissionFactory(group_order=order, buyer=buyer, payment_method=gcash)
    paid.lines.create(description="Album (random version)", quantity=1, unit_price_minor=125_000)
    record_demo_payment(gom=gom, submission=paid, amount_minor=paid.amount_due_minor)
    wallet_grant_credit(
        actor=gom,
        buyer=buyer,
        issuer=gom,
        currency="PHP",
        amount_minor=20_000,
        kind="goodwill",
        description="Sorry for the delay",
        idempotency_key="g1",
    )
    base = live_server.url  # type: ignore[attr-defined]

    pages = {"login": "/login/", "signup": "/signup/", "group-order": f"/o/{order.pk}/"}
    signed_in_pages = {
        "my-orders": "/",
        "pay": f"/s/{unpaid.code}/pay/",
        "status-upload": f"/s/{unpaid.code}/",
        "status-paid": f"/s/{paid.code}/",
        "refund-request": f"/s/{paid.code}/refund/",
        "store-credit": "/wallet/",
    }
    failures = {}
    for name, path in pages.items():
        phone.goto(base + path)
        failures[name] = _check(phone, name)
    phone.goto(f"{base}/login/")
    phone.get_by_label("E-mail address").fill("ana@example.test")
    phone.get_by_label("Password").fill("correct-horse-battery")
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url(f"{base}/")
    for name, path in signed_in_pages.items():
        response = phone.goto(base + path)
        assert response is not None
        assert response.status == 200, name
        failures[name] = _check(phone, name)
    assert {name: problems for name, problems in failures.items() if problems} == {}


def _check(page: Page, name: str) -> list[object]:
    screenshot(page, f"buyer-{name}-360")
    problems: list[object] = []
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append(f"{overflow}px wider than the screen")
    problems += serious_accessibility_violations(page)
    return problems
