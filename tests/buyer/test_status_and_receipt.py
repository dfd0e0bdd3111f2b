"""The buyer's order page: what the agent read, re-upload, and the receipt PDF."""

import io
import random

import pypdfium2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from payments.demo import record_demo_payment
from payments.models import Submission
from payments.services import submission_transition
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from tests.verification.receipts import generate
from verification.services import proof_submit


@pytest.fixture
def order(db: None) -> dict:
    gom = StaffFactory(full_name="Bea Santos")
    group_order = GroupOrderFactory(owner=gom, title="FML album GO")
    buyer = UserFactory(full_name="Ana Cruz")
    return {"gom": gom, "order": group_order, "buyer": buyer}


def _upload(buyer: object, submission: object, receipt: object) -> object:
    upload = SimpleUploadedFile("receipt.png", receipt.data, content_type=receipt.content_type)
    return proof_submit(
        actor=buyer, submission=submission, upload=upload, original_name="receipt.png"
    )


def test_status_page_shows_what_the_agent_read(
    client: Client, order: dict, django_capture_on_commit_callbacks: object
) -> None:
    receipt = generate("gcash", random.Random(7), damage=False)
    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=receipt.amount_minor
    )
    with django_capture_on_commit_callbacks(execute=True):
        _upload(order["buyer"], submission, receipt)
    client.force_login(order["buyer"])

    html = client.get(reverse("buyer:submission-status", args=[submission.code])).content.decode()

    assert "Proof submitted" in html
    assert f'<dd class="mono read-reference">{receipt.reference}</dd>' in html
    amount = f"₱{receipt.amount_minor // 100:,}.{receipt.amount_minor % 100:02d}"
    assert f'<dd class="read-amount">{amount}</dd>' in html
    assert "1 proof uploaded" in html
    assert 'class="card upload"' not in html  # under review: no second upload offered


def test_after_a_rejection_the_buyer_sees_the_reason_and_can_upload_again(
    client: Client, order: dict
) -> None:
    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    submission_transition(actor=order["buyer"], submission=submission, target="proof_submitted")
    submission_transition(
        actor=order["gom"],
        submission=submission,
        target="rejected",
        notes="The amount does not match",
    )
    client.force_login(order["buyer"])
    html = client.get(reverse("buyer:submission-status", args=[submission.code])).content.decode()
    assert "Reason: The amount does not match" in html
    assert "Upload a new proof" in html
    assert f'data-api="/api/submissions/{submission.pk}/payment-proof"' in html


def _pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(data))
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def test_receipt_pdf_lists_items_payments_and_totals(client: Client, order: dict) -> None:
    submission = SubmissionFactory(
        group_order=order["order"],
        buyer=order["buyer"],
        buyer_name="Ana Cruz",
        amount_due_minor=125_000,
    )
    submission.lines.create(description="Album", quantity=1, unit_price_minor=125_000)
    record_demo_payment(gom=order["gom"], submission=submission, amount_minor=125_000)
    client.force_login(order["buyer"])

    response = client.get(reverse("buyer:submission-receipt", args=[submission.code]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"] == f'attachment; filename="receipt-{submission.code}.pdf"'
    )
    text = _pdf_text(response.content)
    assert "Payment receipt" in text
    assert submission.code in text
    assert "Ana Cruz" in text
    assert "1 × Album" in text
    assert text.count("₱1,250.00") >= 3  # the line, the total and the payment
    assert "Still to pay" in text
    assert "₱0.00" in text


def test_malaysian_receipt_prints_ringgit(client: Client, db: None) -> None:
    gom = StaffFactory()
    buyer = UserFactory()
    group_order = GroupOrderFactory(owner=gom, country="MY", currency="MYR")
    submission = SubmissionFactory(group_order=group_order, buyer=buyer, amount_due_minor=4_550)
    record_demo_payment(gom=gom, submission=submission, amount_minor=4_550, method_type="tng")
    client.force_login(buyer)
    text = _pdf_text(
        client.get(reverse("buyer:submission-receipt", args=[submission.code])).content
    )
    assert "RM 45.50" in text


def test_no_receipt_before_payment_and_none_for_another_buyer(client: Client, order: dict) -> None:
    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    client.force_login(order["buyer"])
    assert (
        client.get(reverse("buyer:submission-receipt", args=[submission.code])).status_code == 404
    )
    record_demo_payment(
        gom=order["gom"], submission=submission, amount_minor=submission.amount_due_minor
    )
    client.force_login(UserFactory())
    assert (
        client.get(reverse("buyer:submission-receipt", args=[submission.code])).status_code == 404
    )
    assert client.get(reverse("buyer:submission-status", args=[submission.code])).status_code == 404


def test_rendering_a_receipt_does_not_make_truncated_proofs_acceptable(
    client: Client, order: dict
) -> None:
    # WeasyPrint switches Pillow's LOAD_TRUNCATED_IMAGES on for the whole process.
    from verification.exceptions import ProofRejected

    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=125_000
    )
    record_demo_payment(gom=order["gom"], submission=submission, amount_minor=60_000)
    client.force_login(order["buyer"])
    assert (
        client.get(reverse("buyer:submission-receipt", args=[submission.code])).status_code == 200
    )

    receipt = generate("gcash", random.Random(5), damage=False)
    png = receipt.data if receipt.content_type == "image/png" else None
    assert png is not None
    truncated = SimpleUploadedFile("cut.png", png[: len(png) // 2], content_type="image/png")
    with pytest.raises(ProofRejected):
        proof_submit(
            actor=order["buyer"], submission=submission, upload=truncated, original_name="cut.png"
        )
    assert submission.proofs.count() == 0


def test_the_order_page_is_cached_until_something_on_it_changes(
    client: Client, order: dict, django_assert_max_num_queries: object
) -> None:
    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)  # the first visit sets the CSRF cookie the page's forms belong to
    first = client.get(url).content.decode()
    assert "Waiting for payment" in first
    # Served from the cache: the session, the user and the one fingerprint query.
    with django_assert_max_num_queries(3):
        assert client.get(url).content.decode() == first

    submission_transition(actor=order["buyer"], submission=submission, target="proof_submitted")
    changed = client.get(url).content.decode()
    assert "Proof submitted" in changed
    record_demo_payment(
        gom=order["gom"], submission=submission, amount_minor=submission.amount_due_minor
    )
    assert "Download receipt (PDF)" in client.get(url).content.decode()


def test_a_cached_order_page_costs_one_query_for_the_user_and_the_fingerprint(
    client: Client, order: dict, django_assert_num_queries: object
) -> None:
    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)
    first = client.get(url).content.decode()
    # The session comes from Redis; one statement reads the signed-in user's row (which Django
    # then checks: is_active, the session hash) and everything the page shows that can change.
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert client.get(url).content.decode() == first


def test_the_order_page_reads_its_own_fingerprint_when_the_user_came_from_elsewhere(
    client: Client, order: dict, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: object
) -> None:
    from verification import buyer_views

    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)
    first = client.get(url).content.decode()
    monkeypatch.setattr(buyer_views, "_session_user_and_fingerprint", lambda *_: (None, None))

    # Django reads the user, the page its fingerprint: two queries, the same page.
    with django_assert_num_queries(2):  # type: ignore[operator]
        assert client.get(url).content.decode() == first
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_the_cached_order_page_follows_credit_and_order_changes_and_stays_private(
    client: Client, order: dict
) -> None:
    from wallet.services import wallet_grant_credit

    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=50_000
    )
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)
    assert "Pay with my store credit" not in client.get(url).content.decode()

    wallet_grant_credit(
        actor=order["gom"],
        buyer=order["buyer"],
        issuer=order["gom"],
        currency="PHP",
        amount_minor=20_000,
        kind="goodwill",
        description="Credit",
        idempotency_key="cache-credit",
    )
    assert "Pay with my store credit (₱200.00)" in client.get(url).content.decode()

    order["order"].title = "FML album GO, batch 2"
    order["order"].save(update_fields=["title"])
    assert "FML album GO, batch 2" in client.get(url).content.decode()

    # Another buyer asking for this code gets no page, cached or not.
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_a_page_with_a_one_time_message_is_never_served_stale(client: Client, order: dict) -> None:
    from wallet.services import wallet_grant_credit

    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=50_000
    )
    wallet_grant_credit(
        actor=order["gom"],
        buyer=order["buyer"],
        issuer=order["gom"],
        currency="PHP",
        amount_minor=50_000,
        kind="goodwill",
        description="Credit",
        idempotency_key="c1",
    )
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    page = client.get(url)
    assert "Pay with my store credit (₱500.00)" in page.content.decode()
    response = client.post(
        reverse("payments:submission-credit", args=[submission.code]),
        {"form_token": page.context["form_token"]},
        follow=True,
    )
    html = response.content.decode()
    assert "₱500.00 of store credit paid this order." in html
    assert "Pay with my store credit" not in html
    assert "₱500.00 of store credit paid" not in client.get(url).content.decode()


def test_the_cached_order_page_lists_refunds_and_follows_their_decisions(
    client: Client, order: dict
) -> None:
    from payments.money.services import refund_reject, refund_request

    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=100_000
    )
    payment = record_demo_payment(gom=order["gom"], submission=submission, amount_minor=100_000)
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)
    assert 'class="refunds"' not in client.get(url).content.decode()

    refund = refund_request(
        actor=order["buyer"],
        payment=payment,
        submission=submission,
        amount_minor=35_000,
        destination="original_method",
        reason="item_unavailable",
        idempotency_key="cache-refund",
    )
    requested = client.get(url).content.decode()
    assert "₱350.00" in requested
    assert '<td class="refund-status">Requested</td>' in requested

    # Rejecting a refund leaves the submission's version alone: the fingerprint must see it.
    version = Submission.objects.get(pk=submission.pk).version
    refund_reject(actor=order["gom"], refund=refund, reason="Already shipped")
    assert Submission.objects.get(pk=submission.pk).version == version
    rejected = client.get(url).content.decode()
    assert (
        '<td class="refund-status">Rejected<br><span class="muted">Already shipped</span></td>'
        in rejected
    )
    assert "Requested" not in rejected


def test_status_page_names_the_provider_it_read(
    client: Client, order: dict, django_capture_on_commit_callbacks: object
) -> None:
    receipt = generate("maya", random.Random(3), damage=False)
    submission = SubmissionFactory(
        group_order=order["order"], buyer=order["buyer"], amount_due_minor=receipt.amount_minor
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        _upload(order["buyer"], submission, receipt)
    client.force_login(order["buyer"])
    html = client.get(reverse("buyer:submission-status", args=[submission.code])).content.decode()
    assert '<dd class="read-provider">Maya</dd>' in html


@pytest.mark.parametrize("change", ["deactivate", "new_password"])
def test_a_cached_order_page_is_not_served_once_the_sign_in_is_no_longer_good(
    client: Client, order: dict, change: str
) -> None:
    submission = SubmissionFactory(group_order=order["order"], buyer=order["buyer"])
    client.force_login(order["buyer"])
    url = reverse("buyer:submission-status", args=[submission.code])
    client.get(url)
    assert client.get(url).status_code == 200  # now in the page cache

    buyer = order["buyer"]
    if change == "deactivate":
        buyer.is_active = False
    else:
        buyer.set_password("a-new-password-after-a-leak")  # the session's hash no longer matches
    buyer.save()

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
