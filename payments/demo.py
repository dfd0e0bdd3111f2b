"""Demo data for `make run`: a small but complete world, built through the services.

Everything is keyed on stable names (e-mails, titles, account numbers), so running it again finds
what is there and adds nothing.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import FINANCE_GROUP, GOM_GROUP, ensure_role_groups
from payments.models import (
    GroupOrder,
    GroupOrderItem,
    Payment,
    PaymentMethod,
    Refund,
    RefundReason,
    Submission,
)
from payments.money.services import payment_record, refund_approve, refund_request
from payments.services import (
    LineRequest,
    grouporder_grant_access,
    submission_create,
    submission_transition,
)

DEMO_PASSWORD = "demo-pass-2026"
SUBMISSIONS_PER_ORDER = 75
_S = Submission.Status

# How to reach each state from pending_payment, as steps through the services: state changes,
# payments recorded by the GOM (full or half) and refunds to wallet credit (half or full).
PATHS: dict[str, list[str]] = {
    _S.PENDING_PAYMENT: [],
    _S.PROOF_SUBMITTED: [_S.PROOF_SUBMITTED],
    _S.VERIFIED: [_S.PROOF_SUBMITTED, "pay_full"],
    _S.PARTIALLY_PAID: [_S.PROOF_SUBMITTED, "pay_half"],
    _S.REJECTED: [_S.PROOF_SUBMITTED, _S.REJECTED],
    _S.EXPIRED: [_S.EXPIRED],
    _S.CANCELLED: [_S.CANCELLED],
    _S.PARTIALLY_REFUNDED: [_S.PROOF_SUBMITTED, "pay_full", "refund_half"],
    _S.REFUNDED: [_S.PROOF_SUBMITTED, "pay_full", "refund_full"],
}

_ORDERS = [
    # owner key, title, country, items (name, price in minor units), final status
    (
        "ph",
        "SEVENTEEN 'FML' album GO",
        "PH",
        [("Album (random ver.)", 95_000), ("Photocard set", 35_000)],
        "open",
    ),
    ("ph", "ENHYPEN lightstick GO", "PH", [("Lightstick v2", 265_000)], "closed"),
    (
        "my",
        "NewJeans 'How Sweet' GO",
        "MY",
        [("Album (standard)", 7_990), ("POB photocard", 1_500)],
        "open",
    ),
    ("my", "Stray Kids merch GO", "MY", [("Hoodie", 18_900), ("Keyring", 3_500)], "closed"),
]
_METHODS = {
    "ph": [
        ("ph-gcash", "GCash", "SAMPLE GOM PH", "09171234567", {}),
        ("ph-maya", "Maya", "SAMPLE GOM PH", "09181234567", {}),
        ("ph-bdo", "BDO savings", "SAMPLE GOM PH", "001234567890", {}),
    ],
    "my": [
        ("my-maybank", "Maybank", "SAMPLE GOM MY", "114012345678", {}),
        ("my-tng", "Touch 'n Go eWallet", "SAMPLE GOM MY", "0123456789", {}),
        (
            "my-duitnow-id",
            "DuitNow (mobile)",
            "SAMPLE GOM MY",
            "0123456789",
            {"duitnow_id_type": "mobile"},
        ),
    ],
}


@dataclass
class DemoLogins:
    rows: list[tuple[str, str, str]] = field(default_factory=list)


def _user(
    email: str, full_name: str, password_hash: str, *, staff: bool = False, superuser: bool = False
) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, full_name=full_name, is_staff=staff or superuser, is_superuser=superuser
        )
        # One hash for all demo accounts: hashing 36 passwords would cost ~10 s for nothing.
        user.password = password_hash
        user.save(update_fields=["password"])
    return user


def _method(
    owner: User, code: str, name: str, account: str, number: str, extra: dict
) -> PaymentMethod:
    method = PaymentMethod.objects.filter(
        owner=owner, template_code=code, account_number=number
    ).first()
    if method is None:
        method = PaymentMethod(
            owner=owner,
            template_code=code,
            display_name=name,
            account_name=account,
            account_number=number,
            extra_details=extra,
            instructions="Send the exact amount, then upload the receipt screenshot.",
        )
        method.full_clean()
        method.save()
    return method


@transaction.atomic
def seed_demo() -> DemoLogins:
    """Create (or find) the demo users, orders, methods and 300 submissions in every state."""
    ensure_role_groups()
    password_hash = make_password(DEMO_PASSWORD)
    gom_group = Group.objects.get(name=GOM_GROUP)
    finance_group = Group.objects.get(name=FINANCE_GROUP)
    rng = random.Random(2026)
    logins = DemoLogins()

    admin_user = _user("admin@demo.gomflow.test", "Demo Admin", password_hash, superuser=True)
    goms = {
        "ph": _user("gom.ph@demo.gomflow.test", "Bea Santos (GOM, PH)", password_hash, staff=True),
        "my": _user("gom.my@demo.gomflow.test", "Aina Rahman (GOM, MY)", password_hash, staff=True),
    }
    assistant = _user(
        "assistant@demo.gomflow.test", "Carlo Reyes (assistant)", password_hash, staff=True
    )
    finance = _user("finance@demo.gomflow.test", "Dana Lim (finance)", password_hash, staff=True)
    for user in (*goms.values(), assistant):
        user.groups.add(gom_group)
    finance.groups.add(finance_group)
    buyers = [
        _user(f"buyer{n:02d}@demo.gomflow.test", f"Demo Buyer {n:02d}", password_hash)
        for n in range(1, 31)
    ]

    methods = {
        key: [_method(goms[key], *spec) for spec in specs] for key, specs in _METHODS.items()
    }
    now = timezone.now()
    states = list(PATHS)
    for index, (key, title, country, items, final_status) in enumerate(_ORDERS):
        owner = goms[key]
        order = GroupOrder.objects.filter(owner=owner, title=title).first()
        if order is None:
            order = GroupOrder.objects.create(
                owner=owner,
                title=title,
                country=country,
                currency="PHP" if country == "PH" else "MYR",
                description="Demo group order.",
                order_deadline=now + timedelta(days=10 + index),
                payment_deadline=now + timedelta(days=14 + index),
            )
            order.accepted_methods.set(methods[key])
            for name, price in items:
                GroupOrderItem.objects.create(group_order=order, name=name, unit_price_minor=price)
        if index == 0 and not assistant.has_perm("payments.verify_grouporder", order):
            grouporder_grant_access(
                actor=owner, group_order=order, assistant=assistant, level="verify"
            )
        existing = order.submissions.count()
        order_items = list(order.items.all())
        for n in range(existing, SUBMISSIONS_PER_ORDER):
            _demo_submission(
                order,
                buyers[(n + index * 7) % len(buyers)],
                order_items,
                methods[key],
                states[n % len(states)],
                rng,
                owner,
            )
        if order.status != final_status:
            GroupOrder.objects.filter(pk=order.pk).update(status=final_status)

    logins.rows = [
        ("superuser", admin_user.email, "/admin/"),
        ("GOM (Philippines)", goms["ph"].email, "/admin/"),
        ("GOM (Malaysia)", goms["my"].email, "/admin/"),
        ("assistant (verifies the first PH order)", assistant.email, "/admin/"),
        ("finance (read-only, everything)", finance.email, "/admin/"),
        ("buyer", buyers[0].email, "/login/"),
    ]
    return logins


def _demo_submission(
    order: GroupOrder,
    buyer: User,
    items: list[GroupOrderItem],
    methods: list[PaymentMethod],
    target: str,
    rng: random.Random,
    gom: User,
) -> None:
    with transaction.atomic():
        lines = [
            LineRequest(item_id=item.pk, quantity=rng.randint(1, 3))
            for item in items[:2]
            if rng.random() < 0.8
        ] or [LineRequest(item_id=items[0].pk, quantity=1)]
        method = rng.choice(methods)
        submission = submission_create(
            actor=buyer,
            group_order=order,
            buyer=buyer,
            buyer_name=buyer.full_name,
            lines=lines,
            payment_method=method,
            terms_accepted=True,
            ip_address="127.0.0.1",
            notify=False,
        )
        payment = None
        for step in PATHS[target]:
            if step in ("pay_full", "pay_half"):
                amount = submission.amount_due_minor
                payment = payment_record(
                    actor=gom,
                    buyer=buyer,
                    group_order=order,
                    currency=order.currency,
                    amount_minor=amount if step == "pay_full" else amount // 2,
                    method_type=method.method_type,
                    source=Payment.Source.MANUAL,
                    paid_at=timezone.now(),
                    payment_method=method,
                    reference=f"DEMO{submission.code}",
                    idempotency_key=f"demo:{submission.code}",
                    allocations=[(submission, amount if step == "pay_full" else amount // 2)],
                )
            elif step in ("refund_half", "refund_full"):
                amount = (
                    payment.amount_minor if step == "refund_full" else payment.amount_minor // 2
                )
                refund = refund_request(
                    actor=buyer,
                    payment=payment,
                    submission=submission,
                    amount_minor=amount,
                    destination=Refund.Destination.WALLET,
                    reason=RefundReason.ITEM_UNAVAILABLE,
                    idempotency_key=f"demo-refund:{submission.code}",
                )
                refund_approve(actor=gom, refund=refund)
            else:
                actor = buyer if step in (_S.PROOF_SUBMITTED, _S.CANCELLED) else gom
                submission_transition(actor=actor, submission=submission, target=step)
            submission.refresh_from_db()


def record_demo_payment(
    *, gom: Any, submission: Submission, amount_minor: int, method_type: str = "gcash"
) -> Payment:
    """Record a manual payment of ``amount_minor`` on a submission (repeat-safe per submission).

    More than is due becomes wallet credit, less leaves the submission partially paid, exactly
    like a real payment, so the demo shows every state the money core produces.
    """
    return payment_record(
        actor=gom,
        buyer=submission.buyer,
        group_order=submission.group_order,
        currency=submission.currency,
        amount_minor=amount_minor,
        method_type=method_type,
        source=Payment.Source.MANUAL,
        paid_at=timezone.now() - timedelta(hours=1),
        idempotency_key=f"demo:{submission.pk}:{amount_minor}",
        allocations=[(submission, min(amount_minor, submission.outstanding_minor))],
        reference="DEMO",
    )
