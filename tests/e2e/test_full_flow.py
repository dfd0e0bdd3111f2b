"""Issue 6's acceptance story, buyer and GOM each in their own browser.

A buyer signs up and orders; pays with a real receipt screenshot the agent reads; the GOM approves
it on the review page; the buyer sees it verified and downloads the receipt PDF. A second order's
proof is rejected with a long note, the buyer re-uploads and it is approved. A partial refund to
store credit is approved in the admin, and the credit pays a third order. The database is checked
row by row at the end.
"""

import io
import random
from pathlib import Path

import pypdfium2
import pytest
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from accounts.roles import GOM_GROUP
from audit.models import AuditEvent
from payments.models import Payment, PaymentAllocation, Refund, Submission
from tests.factories import (
    GroupOrderFactory,
    GroupOrderItemFactory,
    PaymentMethodFactory,
    StaffFactory,
)
from tests.verification.receipts import Receipt, generate
from verification.models import PaymentProof, ProofReview
from wallet.models import CreditGrant, Wallet, WalletEntry

PASSWORD = "a-long-enough-pass-91"
# Longer than the 100 characters simple-history keeps as a change reason: it once gave a 500.
LONG_NOTE = (
    "The screenshot shows ₱871.00 but this order is ₱3,336.00. Please send the screenshot of the"
    " full payment, with the reference number visible."
)


def _receipt(seed: int) -> Receipt:
    return generate("gcash", random.Random(seed), damage=False)


def _sign_up(page: Page, base: str) -> None:
    page.goto(f"{base}/signup/")
    page.get_by_label("E-mail address").fill("ana@example.test")
    page.get_by_label("Your name").fill("Ana Cruz")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()


def _place_order(page: Page, base: str, order_pk: int, item: str) -> str:
    """Order one of ``item`` with GCash; return the new submission's code (from the pay page)."""
    page.goto(f"{base}/o/{order_pk}/")
    page.get_by_label(item, exact=True).fill("1")
    page.get_by_label("GCash").check()
    page.get_by_label("I accept the terms of this group order.").check()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    return page.url.rstrip("/").split("/")[-2]


def _upload(page: Page, base: str, code: str, receipt: Receipt, tmp_path: Path) -> None:
    path = tmp_path / f"{receipt.reference}.png"
    path.write_bytes(receipt.data)
    # upload.js (deferred) must be listening before the file is chosen.
    page.wait_for_load_state("load")
    # The script sends the file, the agent reads it, then the page reloads itself.
    with page.expect_navigation(url=f"{base}/s/{code}/", timeout=30_000):
        page.set_input_files("#id_file", str(path))
    expect(page.locator(".status")).to_have_text("Proof submitted")


def _review_url(code: str) -> str:
    proof_id = ProofReview.objects.get(submission_code=code, state="awaiting").proof_id
    return f"/admin/verification/proofreview/{proof_id}/"


def _gom_log_in(page: Page, base: str, email: str, code: str) -> None:
    page.goto(f"{base}/admin/login/?next={_review_url(code)}")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill("correct-horse-battery")
    page.locator("input[type=submit]").click()
    expect(page.get_by_role("heading", name=f"{code} · Ana Cruz")).to_be_visible()


def _open_review(page: Page, base: str, code: str) -> None:
    page.goto(f"{base}{_review_url(code)}")
    expect(page.get_by_role("heading", name=f"{code} · Ana Cruz")).to_be_visible()


def _pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(data))
    return "\n".join(page.get_textpage().get_text_range() for page in document)


@pytest.mark.django_db(transaction=True)
def test_buyer_and_gom_full_story(live_server: object, browser: Browser, tmp_path: Path) -> None:
    paid_in_full, wrong_amount, corrected = _receipt(11), _receipt(13), _receipt(12)
    assert (paid_in_full.amount_minor, wrong_amount.amount_minor, corrected.amount_minor) == (
        862_966,
        87_100,
        333_600,
    )
    gom = StaffFactory(email="bea@example.test", full_name="Bea Santos")
    gom.groups.add(Group.objects.get(name=GOM_GROUP))
    order = GroupOrderFactory(owner=gom, title="FML album GO")
    GroupOrderItemFactory(group_order=order, name="Album set", unit_price_minor=862_966)
    GroupOrderItemFactory(group_order=order, name="Lightstick", unit_price_minor=333_600)
    GroupOrderItemFactory(group_order=order, name="Photocard", unit_price_minor=60_000)
    gcash = PaymentMethodFactory(
        owner=gom,
        display_name="GCash",
        account_name="BEA SANTOS",
        account_number="09171234567",
        instructions="Send Money to this number, then upload the screenshot here.",
    )
    order.accepted_methods.set([gcash])
    base = live_server.url  # type: ignore[attr-defined]
    buyer_context = browser.new_context(
        viewport={"width": 360, "height": 740}, accept_downloads=True
    )
    gom_context = browser.new_context(viewport={"width": 1280, "height": 900})
    buyer, admin = buyer_context.new_page(), gom_context.new_page()
    for page in (buyer, admin):
        page.set_default_timeout(10_000)

    # 1. Sign up, order, read the instructions, pay with a real screenshot.
    _sign_up(buyer, base)
    first = _place_order(buyer, base, order.pk, "Album set")
    expect(buyer.locator("#amount")).to_have_text("₱8,629.66")
    card = buyer.locator("section.method")
    expect(card.get_by_role("heading")).to_have_text("GCash your choice")
    expect(card).to_contain_text("09171234567")
    expect(card).to_contain_text("Send Money to this number, then upload the screenshot here.")
    expect(card.locator(".fee")).to_have_text("3.5% + ₱10.00")
    buyer.get_by_role("link", name="See the status of this order").click()
    _upload(buyer, base, first, paid_in_full, tmp_path)
    expect(buyer.locator(".read-amount")).to_have_text("₱8,629.66")
    expect(buyer.locator(".read-reference")).to_have_text(paid_in_full.reference)
    expect(buyer.locator(".read-provider")).to_have_text("GCash")

    # 2. The GOM approves it from the review page, keeping the amount read (with its centavos).
    _gom_log_in(admin, base, gom.email, first)
    expect(admin.locator("#id_amount")).to_have_value("8629.66")
    admin.locator("#approve").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"{first}: Approved ₱8,629.66: verified.")

    # 3. The buyer sees it verified and downloads the receipt.
    buyer.goto(f"{base}/")
    row = buyer.locator("tr", has_text=first)
    expect(row).to_contain_text("Verified")
    row.get_by_role("link", name=first).click()
    expect(buyer.locator(".status")).to_have_text("Verified")
    with buyer.expect_download() as download_info:
        buyer.get_by_role("link", name="Download receipt (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"receipt-{first}.pdf"
    receipt_text = _pdf_text(Path(download.path()).read_bytes())
    assert first in receipt_text
    assert "₱8,629.66" in receipt_text
    assert paid_in_full.reference in receipt_text

    # 4. A second order: the wrong screenshot is rejected with a long note, then re-uploaded.
    second = _place_order(buyer, base, order.pk, "Lightstick")
    buyer.goto(f"{base}/s/{second}/")
    _upload(buyer, base, second, wrong_amount, tmp_path)
    expect(buyer.locator(".read-amount")).to_have_text("₱871.00")
    _open_review(admin, base, second)
    admin.locator("#id_reason_code").select_option("amount_mismatch")
    admin.locator("#id_reason_text").fill(LONG_NOTE)
    admin.locator("#reject").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"{second}: Rejected")
    buyer.reload()
    expect(buyer.locator(".status")).to_have_text("Rejected")
    expect(buyer.locator(".timeline li.status-rejected")).to_contain_text(
        f"Reason: The amount does not match what is due. {LONG_NOTE.rstrip('.')}."
    )
    expect(buyer.get_by_role("heading", name="Upload a new proof")).to_be_visible()
    _upload(buyer, base, second, corrected, tmp_path)
    expect(buyer.locator(".read-amount")).to_have_text("₱3,336.00")
    _open_review(admin, base, second)
    admin.locator("#approve").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"{second}: Approved ₱3,336.00")
    buyer.reload()
    expect(buyer.locator(".status")).to_have_text("Verified")

    # 5. A partial refund of the first order to store credit, approved in the admin.
    buyer.goto(f"{base}/s/{first}/")
    buyer.get_by_role("link", name="Ask for a refund").click()
    buyer.get_by_label("Amount to refund").fill("1000.00")
    buyer.get_by_label("Why?").select_option("item_unavailable")
    buyer.get_by_label("Store credit (at once)").check()
    buyer.get_by_role("button", name="Ask for the refund").click()
    expect(buyer.locator(".refunds")).to_contain_text("₱1,000.00")
    expect(buyer.locator(".refunds .refund-status")).to_have_text("Requested")
    refund = Refund.objects.get()
    admin.goto(f"{base}/admin/payments/refund/{refund.pk}/decide/")
    admin.get_by_label("Decision").select_option("approve")
    admin.get_by_role("button", name="Save decision").click()
    expect(admin.locator(".messagelist")).to_contain_text(f"Refund #{refund.pk} updated.")
    buyer.reload()
    # Store credit is paid out at once.
    expect(buyer.locator(".refunds .refund-status")).to_have_text("Paid")
    expect(buyer.locator(".status")).to_have_text("Partially refunded")

    # 6. The credit pays a third order in full; ₱400.00 is left.
    third = _place_order(buyer, base, order.pk, "Photocard")
    buyer.goto(f"{base}/s/{third}/")
    buyer.get_by_role("button", name="Pay with my store credit (₱1,000.00)").click()
    expect(buyer.get_by_role("status")).to_have_text("₱600.00 of store credit paid this order.")
    expect(buyer.locator(".status")).to_have_text("Verified")
    buyer.goto(f"{base}/wallet/")
    expect(buyer.locator(".amount strong")).to_have_text("₱400.00")

    buyer_context.close()
    gom_context.close()

    # The database, row by row.
    ana = Submission.objects.get(code=first).buyer
    submissions = {s.code: s for s in Submission.objects.filter(buyer=ana)}
    assert {
        code: (s.status, s.amount_due_minor, s.paid_minor, s.refunded_minor)
        for code, s in submissions.items()
    } == {
        first: ("partially_refunded", 862_966, 862_966, 100_000),
        second: ("verified", 333_600, 333_600, 0),
        third: ("verified", 60_000, 60_000, 0),
    }
    payments = list(Payment.objects.order_by("id"))
    assert [(p.source, p.amount_minor, p.fee_minor, p.reference) for p in payments] == [
        ("proof", 862_966, 31_204, paid_in_full.reference),
        ("proof", 333_600, 12_676, corrected.reference),
        ("wallet", 60_000, 0, ""),
    ]
    assert [
        (a.payment_id, a.submission.code, a.amount_minor, a.is_reversed)
        for a in PaymentAllocation.objects.order_by("id")
    ] == [
        (payments[0].pk, first, 862_966, False),
        (payments[1].pk, second, 333_600, False),
        (payments[2].pk, third, 60_000, False),
    ]
    refund.refresh_from_db()
    assert (refund.status, refund.amount_minor, refund.destination) == ("paid", 100_000, "wallet")
    grant = CreditGrant.objects.get()
    assert (grant.kind, grant.amount_minor, grant.remaining_minor) == ("refund", 100_000, 40_000)
    assert refund.credit_grant == grant
    assert [(e.kind, e.amount_minor) for e in WalletEntry.objects.order_by("id")] == [
        ("grant", 100_000),
        ("use", -60_000),
    ]
    assert Wallet.objects.get(buyer=ana).balance_minor == 40_000
    assert [
        (r.state, r.reason_code, r.reason_text) for r in ProofReview.objects.order_by("proof_id")
    ] == [
        ("approved", "", ""),
        ("rejected", "amount_mismatch", LONG_NOTE),
        ("approved", "", ""),
    ]
    assert PaymentProof.objects.count() == 3
    assert [m.subject for m in mail.outbox] == [
        f"Your order {first}: how to pay",
        f"We received your proof of payment for {first}",
        f"Your payment for {first} is verified",
        f"Your order {second}: how to pay",
        f"We received your proof of payment for {second}",
        f"Your proof of payment for {second} needs another look",
        f"We received your proof of payment for {second}",
        f"Your payment for {second} is verified",
        f"Your refund for {first} is paid",
        f"Your order {third}: how to pay",
        f"Your payment for {third} is verified",
    ]
    assert {tuple(m.to) for m in mail.outbox} == {("ana@example.test",)}
    assert AuditEvent.objects.filter(action="verification.rejected").count() == 1
