"""Once opened, the payment instructions stay readable with no signal (service worker)."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import (
    GroupOrderFactory,
    PaymentMethodFactory,
    StaffFactory,
    SubmissionFactory,
    UserFactory,
)


@pytest.mark.django_db(transaction=True)
def test_pay_page_reloads_offline_from_the_service_worker(live_server: object, phone: Page) -> None:
    gom = StaffFactory()
    order = GroupOrderFactory(owner=gom)
    gcash = PaymentMethodFactory(owner=gom, display_name="GCash", account_number="09171234567")
    order.accepted_methods.set([gcash])
    buyer = UserFactory(email="ana@example.test")
    submission = SubmissionFactory(
        group_order=order, buyer=buyer, amount_due_minor=190_000, payment_method=gcash
    )
    base = live_server.url  # type: ignore[attr-defined]

    phone.goto(f"{base}/login/")
    phone.get_by_label("E-mail address").fill("ana@example.test")
    phone.get_by_label("Password").fill("correct-horse-battery")
    phone.get_by_role("button", name="Sign in").click()
    pay_url = f"{base}/s/{submission.code}/pay/"
    phone.goto(pay_url)
    phone.evaluate("async () => { await navigator.serviceWorker.ready; }")
    # The first load was not yet controlled by the worker; load again so it keeps a copy.
    phone.reload()
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
    phone.reload()

    phone.context.set_offline(True)
    phone.reload()
    expect(phone.locator("#amount")).to_have_text("₱1,900.00")
    expect(phone.get_by_text("09171234567")).to_be_visible()
    phone.context.set_offline(False)


@pytest.mark.django_db
def test_manifest_and_service_worker_are_served_from_the_root(client: object) -> None:
    manifest = client.get("/manifest.webmanifest")  # type: ignore[attr-defined]
    assert manifest.status_code == 200
    assert manifest["Content-Type"] == "application/manifest+json"
    assert manifest.json()["name"] == "GOMFlow Payments"
    worker = client.get("/sw.js")  # type: ignore[attr-defined]
    assert worker.status_code == 200
    assert worker["Content-Type"] == "application/javascript"
    assert b"gomflow-pay-v1" in b"".join(worker.streaming_content)
