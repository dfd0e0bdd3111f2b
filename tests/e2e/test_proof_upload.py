"""The buyer uploads a proof from the phone: refused files show the server's reason; a good one
is analysed and its amount and reference appear on the order page."""

import random
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from payments.models import Submission
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from tests.verification.receipts import generate


@pytest.mark.django_db(transaction=True)
def test_upload_refusal_then_success(live_server: object, phone: Page, tmp_path: Path) -> None:
    receipt = generate("gcash", random.Random(11), damage=False)
    buyer = UserFactory(email="ana@example.test")
    order = GroupOrderFactory(owner=StaffFactory())
    submission = SubmissionFactory(
        group_order=order, buyer=buyer, amount_due_minor=receipt.amount_minor
    )
    base = live_server.url  # type: ignore[attr-defined]
    phone.goto(f"{base}/login/")
    phone.get_by_label("E-mail address").fill("ana@example.test")
    phone.get_by_label("Password").fill("correct-horse-battery")
    phone.get_by_role("button", name="Sign in").click()
    phone.goto(f"{base}/s/{submission.code}/")

    # A web page renamed to .png: the browser lets it through, the server says why not.
    fake = tmp_path / "receipt.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    phone.set_input_files("#id_file", str(fake))
    expect(phone.locator(".upload-message")).to_have_text(
        "Upload a PNG, JPEG, WebP or HEIC image, or a one-page PDF (this file is text/html)."
    )
    expect(phone.locator(".upload-message")).to_have_class("upload-message error")
    assert Submission.objects.get(pk=submission.pk).status == "pending_payment"

    # Too big for the limit: refused in the browser before sending anything.
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"0" * (10 * 1024 * 1024 + 1))
    phone.set_input_files("#id_file", str(big))
    expect(phone.locator(".upload-message")).to_contain_text("the limit is 10 MB")

    good = tmp_path / "gcash.png"
    good.write_bytes(receipt.data)
    phone.set_input_files("#id_file", str(good))
    phone.wait_for_url(f"{base}/s/{submission.code}/")
    expect(phone.locator(".status")).to_have_text("Proof submitted")
    expect(phone.locator(".read-reference")).to_have_text(receipt.reference)
    assert Submission.objects.get(pk=submission.pk).status == "proof_submitted"
