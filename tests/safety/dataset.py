"""A small but complete data set in the money and state tables, built through the services.

Used in-process by the backup test and in a child process (``manage.py shell``) by the migration
round trip, so it must not depend on pytest. When new money tables land, add their rows here: the
tests that use it measure every ``*_minor`` column generically.

Money in it: an overpaid payment (wallet credit), a refund to store credit, a payment recorded
from a verified proof, a payment made with goodwill credit; a proof uploaded and stored encrypted.
"""

import io
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User
from audit.services import audit_record
from payments.models import (
    GroupOrder,
    GroupOrderItem,
    Payment,
    PaymentMethod,
    Refund,
    RefundReason,
)
from payments.money.services import (
    payment_record,
    refund_approve,
    refund_request,
    wallet_apply_credit,
)
from payments.services import LineRequest, submission_create, submission_transition
from verification.services import proof_submit
from wallet.models import CreditGrant
from wallet.services import wallet_grant_credit

# Bytes that stand for a proof the storage layer encrypted: restored files must be identical.
ENCRYPTED_PROOF = bytes(range(256)) * 40 + b"\x00gomflow-encrypted-proof"


def receipt_png() -> bytes:
    image = Image.new("RGB", (320, 160), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 6, 313, 153), outline="blue", width=3)
    draw.text((24, 60), "GCash  PHP 2,000.00  Ref 5012 345 678 901", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def build_dataset() -> dict[str, int]:
    """Create GOMs, buyers, orders in both currencies, submissions in several states, media."""
    now = timezone.now()
    gom_ph = User.objects.create(email="gom-ph@example.test", full_name="GOM PH", is_staff=True)
    gom_my = User.objects.create(email="gom-my@example.test", full_name="GOM MY", is_staff=True)
    buyers = [
        User.objects.create(email=f"buyer{n}@example.test", full_name=f"Buyer {n}")
        for n in range(4)
    ]
    gcash = PaymentMethod.objects.create(
        owner=gom_ph,
        template_code="ph-gcash",
        method_type="gcash",
        country="PH",
        display_name="GCash",
        account_name="GOM PH",
        account_number="09171234567",
        monthly_limit_minor=10_000_000,
    )
    gcash.qr_image.save("gcash-qr.png", ContentFile(b"\x89PNG\r\n\x1a\nfake-qr-bytes"), save=True)
    tng = PaymentMethod.objects.create(
        owner=gom_my,
        template_code="my-tng",
        method_type="tng",
        country="MY",
        display_name="TnG",
        account_name="GOM MY",
        account_number="0123456789",
    )
    orders = []
    for owner, country, currency, method, price in (
        (gom_ph, "PH", "PHP", gcash, 125_000),
        (gom_my, "MY", "MYR", tng, 4_550),
    ):
        order = GroupOrder.objects.create(
            owner=owner,
            title=f"Album GO {country}",
            country=country,
            currency=currency,
            order_deadline=now + timedelta(days=7),
            payment_deadline=now + timedelta(days=10),
        )
        order.accepted_methods.add(method)
        item = GroupOrderItem.objects.create(
            group_order=order, name="Album", unit_price_minor=price
        )
        orders.append((order, item, method))
    submissions = []
    for index, buyer in enumerate(buyers):
        order, item, method = orders[index % 2]
        submissions.append(
            submission_create(
                actor=buyer,
                group_order=order,
                buyer=buyer,
                buyer_name=buyer.full_name,
                lines=[LineRequest(item_id=item.pk, quantity=index + 1)],
                payment_method=method,
                terms_accepted=True,
            )
        )
    first, second, third, fourth = submissions
    # Overpaid by PHP 50: verified, and the rest becomes wallet credit (grant + ledger entry).
    overpaid = payment_record(
        actor=gom_ph,
        buyer=buyers[0],
        currency="PHP",
        amount_minor=130_000,
        method_type="gcash",
        source=Payment.Source.MANUAL,
        paid_at=now - timedelta(hours=3),
        idempotency_key="dataset:payment:0",
        allocations=[(first, 125_000)],
        payment_method=gcash,
        reference="GC0001",
    )
    # PHP 250 of it refunded to store credit: partially refunded, another grant and entry.
    refund = refund_request(
        actor=buyers[0],
        payment=overpaid,
        submission=first,
        amount_minor=25_000,
        destination=Refund.Destination.WALLET,
        reason=RefundReason.ITEM_UNAVAILABLE,
        idempotency_key="dataset:refund:0",
    )
    refund_approve(actor=gom_ph, refund=refund)
    submission_transition(actor=buyers[1], submission=second, target="cancelled")
    # The buyer uploads a proof (stored encrypted); the GOM records PHP 2,000 from it.
    proof_submit(
        actor=buyers[2], submission=third, upload=io.BytesIO(receipt_png()), original_name="r.png"
    )
    payment_record(
        actor=gom_ph,
        buyer=buyers[2],
        currency="PHP",
        amount_minor=200_000,
        method_type="gcash",
        source=Payment.Source.PROOF,
        paid_at=now - timedelta(hours=2),
        idempotency_key="dataset:payment:2",
        allocations=[(third, 200_000)],
        reference="5012345678901",
    )
    # Goodwill credit of MYR 50, spent on the MYR order: a wallet payment and a "use" entry.
    wallet_grant_credit(
        actor=gom_my,
        buyer=buyers[3],
        issuer=gom_my,
        currency="MYR",
        amount_minor=5_000,
        kind=CreditGrant.Kind.GOODWILL,
        description="Late shipping last time",
        idempotency_key="dataset:goodwill:3",
    )
    wallet_apply_credit(actor=buyers[3], submission=fourth, idempotency_key="dataset:credit:3")
    default_storage.save("proofs/2026/11/proof-0001.enc", ContentFile(ENCRYPTED_PROOF))
    audit_record(actor=gom_ph, action="proof.viewed", target=first)
    return {"users": 6, "submissions": len(submissions)}
