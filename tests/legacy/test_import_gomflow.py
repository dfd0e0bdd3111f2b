"""Importing the earlier GOMFLOW database: dry run, real run, validation, re-run and rollback."""

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core import mail
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from legacy import services as legacy_services
from legacy.mappers import PaymentMapper, SubmissionMapper
from legacy.models import ImportBatch, LegacyIdMap
from legacy.services import LegacyImportError, legacy_batch_rollback, legacy_import_run
from payments.models import (
    GroupOrder,
    GroupOrderItem,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Submission,
    SubmissionLine,
)
from payments.money.services import payment_void
from payments.services import submission_transition
from tests.legacy.conftest import stored_files
from tests.legacy.legacy_database import uid
from tests.legacy.proof_server import FILES, ProofServer
from tests.safety.databases import rows_of
from verification.models import PaymentProof
from verification.services import proof_read_bytes
from verification.storage import MAGIC

EXPECTED_TABLES = {
    "orders": {"source_rows": 6, "create": 4, "link": 0, "already_imported": 0, "unimportable": 2},
    "orders.payment_methods": {
        "source_rows": 8,
        "create": 3,
        "link": 3,
        "already_imported": 0,
        "unimportable": 2,
    },
    "payment_methods": {
        "source_rows": 5,
        "create": 3,
        "link": 0,
        "already_imported": 0,
        "unimportable": 2,
    },
    "payment_proofs": {
        "source_rows": 6,
        "create": 3,
        "link": 2,
        "already_imported": 0,
        "unimportable": 1,
    },
    "payment_proofs.payment": {
        "source_rows": 1,
        "create": 1,
        "link": 0,
        "already_imported": 0,
        "unimportable": 0,
    },
    "payment_transactions": {
        "source_rows": 9,
        "create": 4,
        "link": 0,
        "already_imported": 0,
        "unimportable": 5,
    },
    "submissions": {
        "source_rows": 14,
        "create": 12,
        "link": 0,
        "already_imported": 0,
        "unimportable": 2,
    },
    "submissions.buyer": {
        "source_rows": 10,
        "create": 8,
        "link": 2,
        "already_imported": 0,
        "unimportable": 0,
    },
    "users": {"source_rows": 5, "create": 3, "link": 2, "already_imported": 0, "unimportable": 0},
}
EXPECTED_CREATED = {
    "accounts.User": 11,
    "accounts.User.groups": 3,
    "payments.GroupOrder": 4,
    "payments.GroupOrder.accepted_methods": 5,
    "payments.GroupOrderItem": 4,
    "payments.Payment": 5,
    "payments.PaymentAllocation": 5,
    "payments.PaymentMethod": 6,
    "payments.Submission": 12,
    "payments.SubmissionLine": 12,
    "verification.PaymentProof": 3,
}
EXPECTED_SUBMISSION_SUMS = {
    "source": {
        "MYR cancelled": {"rows": 1, "amount_minor": 4_550},
        "MYR proof_submitted": {"rows": 1, "amount_minor": 13_650},
        "MYR verified": {"rows": 1, "amount_minor": 4_550},
        "PHP expired": {"rows": 1, "amount_minor": 30_000},
        "PHP partially_paid": {"rows": 1, "amount_minor": 125_000},
        "PHP pending_payment": {"rows": 4, "amount_minor": 289_999},
        "PHP proof_submitted": {"rows": 1, "amount_minor": 100_000},
        "PHP rejected": {"rows": 1, "amount_minor": 125_000},
        "PHP verified": {"rows": 2, "amount_minor": 500_000},
        "USD pending_payment": {"rows": 1, "amount_minor": 1_000},
    },
    "unimportable": {
        "PHP pending_payment": {"rows": 1, "amount_minor": 125_000},
        "USD pending_payment": {"rows": 1, "amount_minor": 1_000},
    },
}
# Every transaction and the approved proof standing for a payment, per currency and status.
EXPECTED_PAYMENT_SUMS = {
    "source": {
        "MYR recorded": {"rows": 2, "amount_minor": 9_100},
        "PHP recorded": {"rows": 7, "amount_minor": 1_025_000},
        "USD recorded": {"rows": 1, "amount_minor": 1_000},
    },
    "unimportable": {
        "MYR recorded": {"rows": 1, "amount_minor": 4_550},
        "PHP recorded": {"rows": 3, "amount_minor": 475_000},
        "USD recorded": {"rows": 1, "amount_minor": 1_000},
    },
}
# Per verification decision, the proofs and the amounts the earlier platform read on them.
EXPECTED_PROOF_SUMS = {
    "source": {
        "approved": {"rows": 2, "amount_minor": 5_550},
        "flagged": {"rows": 1, "amount_minor": 0},
        "pending": {"rows": 1, "amount_minor": 0},
        "rejected": {"rows": 1, "amount_minor": 120_000},
        "requires_review": {"rows": 1, "amount_minor": 100_000},
    },
    "unimportable": {"approved": {"rows": 1, "amount_minor": 1_000}},
}
EXPECTED_UNIMPORTABLE = [
    (
        "payment_methods",
        uid(5, 4),
        "payment method not mapped: Maya details are not valid (account_number: Enter a "
        "Philippine mobile number such as 0917 123 4567.)",
    ),
    ("payment_methods", uid(5, 5), "payment method not mapped: 'cimb' is not a provider in PH"),
    (
        "orders.payment_methods",
        f"{uid(2, 1)}#3",
        "payment method not mapped: no template for the provider 'PayPal'",
    ),
    (
        "orders.payment_methods",
        f"{uid(2, 1)}#4",
        "payment method not mapped: the method is not an object but str: 'GCash 0917 123 4567'",
    ),
    ("orders", uid(2, 4), "currency 'USD' is neither PHP nor MYR"),
    ("orders", uid(2, 5), "the amount 0.00 is not more than zero"),
    ("submissions", uid(3, 7), f"its order orders/{uid(2, 4)} is not imported"),
    ("submissions", uid(3, 8), "quantity 0 is less than 1"),
    ("payment_proofs", uid(6, 6), f"its submission submissions/{uid(3, 7)} is not imported"),
    (
        "payment_transactions",
        uid(4, 2),
        f"duplicate of payment_transactions/{uid(4, 1)} (same gateway payment id 'pay_123')",
    ),
    (
        "payment_transactions",
        uid(4, 3),
        "its submission is cancelled on the earlier platform, not paid: the transaction is "
        "reported, not recorded (check it for a refund there)",
    ),
    ("payment_transactions", uid(4, 4), f"its submission submissions/{uid(3, 7)} is not imported"),
    (
        "payment_transactions",
        uid(4, 7),
        "the amount 150000 is more than the 0 left to pay on its submission: an overpayment is "
        "reported, not turned into credit",
    ),
    ("payment_transactions", uid(4, 9), "no paid_at: when the money arrived is unknown"),
]
_MODELS = (
    User,
    PaymentMethod,
    GroupOrder,
    GroupOrderItem,
    Submission,
    SubmissionLine,
    Payment,
    PaymentAllocation,
    PaymentProof,
)


@pytest.fixture
def existing_accounts(db: None) -> tuple[User, User]:
    """Accounts already on the new platform that legacy rows must link to, not duplicate."""
    gom = User.objects.create(email="existing.gom@example.test", is_staff=True, full_name="Old")
    buyer = User.objects.create(email="existing.buyer@example.test", full_name="Ivy")
    return gom, buyer


def _counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in _MODELS}


def _everything() -> dict[str, list[tuple[Any, ...]]]:
    with connection.cursor() as cursor:
        return rows_of(cursor)


def _target(legacy_table: str, legacy_id: str, model: str) -> Any:
    entry = LegacyIdMap.objects.get(
        legacy_table=legacy_table, legacy_id=legacy_id, target_model=model
    )
    return entry


def test_dry_run_reports_every_count_sum_and_refusal_and_writes_nothing(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    proof_files: ProofServer,
    proof_root: Path,
) -> None:
    before = _everything()
    proof_files.requests.clear()

    outcome = legacy_import_run(
        actor=None, source_dsn=legacy_source, batch_name="first", dry_run=True
    )

    report = outcome.report
    assert outcome.batch is None
    assert report["tables"] == EXPECTED_TABLES
    assert report["created"] == EXPECTED_CREATED
    assert report["sums"]["submissions"] == EXPECTED_SUBMISSION_SUMS
    assert report["sums"]["orders"] == {
        "source": {
            "MYR": {"rows": 2, "amount_minor": 4_550},
            "PHP": {"rows": 3, "amount_minor": 164_999},
            "USD": {"rows": 1, "amount_minor": 1_000},
        },
        "unimportable": {
            "MYR": {"rows": 1, "amount_minor": 0},
            "USD": {"rows": 1, "amount_minor": 1_000},
        },
    }
    assert [(p["table"], p["id"], p["reason"]) for p in report["unimportable"]] == (
        EXPECTED_UNIMPORTABLE
    )
    assert report["sums"]["payment_transactions"] == EXPECTED_PAYMENT_SUMS
    assert report["sums"]["payment_proofs"] == EXPECTED_PROOF_SUMS
    assert [(p["table"], p["id"], p["reason"]) for p in report["warnings"][5:]] == [
        (
            "submissions",
            uid(3, 2),
            "its proof's file is missing: imported as waiting for payment so the buyer can "
            "upload the proof again",
        ),
        (
            "submissions",
            uid(3, 2),
            f"buyer has no usable e-mail (None): own account legacy-buyer-{uid(3, 2)}"
            "@import.invalid",
        ),
        (
            "submissions",
            uid(3, 4),
            "paid without a payment transaction or an approved proof: imported as proof "
            "submitted, for the GOM to confirm (record the payment) or reject",
        ),
        ("submissions", uid(3, 9), "total 100000 is not 1 x 125000: the amount due is the total"),
        (
            "submissions",
            uid(3, 12),
            "paid without a payment transaction: payment recorded from the approved proof "
            f"payment_proofs/{uid(6, 4)}",
        ),
        (
            "submissions",
            uid(3, 13),
            "paid on the earlier platform, but its transactions cover 50000 of 125000: imported "
            "as partially paid",
        ),
        (
            "submissions",
            uid(3, 14),
            "its proof's file is missing: imported as waiting for payment so the buyer can "
            "upload the proof again",
        ),
        (
            "payment_proofs",
            uid(6, 1),
            "file missing (the file at http://127.0.0.1:9/proofs/dan.jpg is unreachable "
            "([Errno 111] Connection refused)): the pending decision is kept without it",
        ),
        (
            "payment_proofs",
            uid(6, 5),
            f"file missing (the file at {proof_files.base_url}/proofs/max-flagged.png was "
            "refused: Upload a PNG, JPEG, WebP or HEIC image, or a one-page PDF (this file is "
            "text/html).): the flagged decision is kept without it",
        ),
        (
            "payment_transactions",
            uid(4, 6),
            "payment method 'card' matches none of ours: recorded without a method type (no fee "
            "rule applies)",
        ),
    ]
    assert [(p["table"], p["id"]) for p in report["warnings"][:5]] == [
        ("users", uid(1, 3)),
        ("users", uid(1, 4)),
        ("users", uid(1, 5)),
        ("payment_methods", uid(5, 3)),
        ("orders", uid(2, 3)),
    ]
    # Every legacy table is imported now; none is only counted.
    assert report["not_imported_tables"] == {}
    # The dry run fetched the files too (to announce the missing ones) but stored none.
    assert sorted(proof_files.requests) == [
        "/proofs/carla-rejected.png",
        "/proofs/dan-review.jpg",
        "/proofs/gone.png",
        "/proofs/kai-approved.png",
        "/proofs/max-flagged.png",
    ]
    assert stored_files(proof_root) == []
    assert _everything() == before


def test_import_matches_the_dry_run_and_validates(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    existing_gom, existing_buyer = existing_accounts
    counts_before = _counts()
    dry = legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=True)

    real = legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)

    assert real.report == dry.report
    counts_after = _counts()
    assert {label: counts_after[label] - counts_before[label] for label in counts_after} == {
        label: EXPECTED_CREATED[label] for label in counts_after
    }
    assert real.validation is not None
    assert real.validation["submissions"]["target"] == {
        "MYR cancelled": {"rows": 1, "amount_minor": 4_550},
        "MYR proof_submitted": {"rows": 1, "amount_minor": 13_650},
        "MYR verified": {"rows": 1, "amount_minor": 4_550},
        "PHP expired": {"rows": 1, "amount_minor": 30_000},
        "PHP partially_paid": {"rows": 1, "amount_minor": 125_000},
        "PHP pending_payment": {"rows": 3, "amount_minor": 164_999},
        "PHP proof_submitted": {"rows": 1, "amount_minor": 100_000},
        "PHP rejected": {"rows": 1, "amount_minor": 125_000},
        "PHP verified": {"rows": 2, "amount_minor": 500_000},
    }
    # Source = target + refused, per currency and status: 1,025,000 - 475,000 came across.
    assert real.validation["payment_transactions"]["target"] == {
        "MYR recorded": {"rows": 1, "amount_minor": 4_550},
        "PHP recorded": {"rows": 4, "amount_minor": 550_000},
    }
    assert real.validation["payment_proofs"]["target"] == {
        "approved": {"rows": 1, "amount_minor": 4_550},
        "flagged": {"rows": 1, "amount_minor": 0},
        "pending": {"rows": 1, "amount_minor": 0},
        "rejected": {"rows": 1, "amount_minor": 120_000},
        "requires_review": {"rows": 1, "amount_minor": 100_000},
    }
    batch = ImportBatch.objects.get(name="b1")
    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.source == legacy_source
    assert LegacyIdMap.objects.filter(batch=batch, created=True).count() == (
        11 + 6 + 4 + 4 + 12 + 12 + 3 + 5 + 5
    )
    # Linked: 2 GOMs, 3 methods, 2 buyers, and the 2 proofs whose file is missing.
    assert LegacyIdMap.objects.filter(batch=batch, created=False).count() == 2 + 3 + 2 + 2

    # The GOMs: one account for the two rows sharing an address, none for the existing GOM.
    ana = User.objects.get(email="gom.ana@example.com")
    assert (ana.is_staff, ana.has_usable_password(), ana.full_name) == (True, False, "Ana Cruz")
    assert list(ana.groups.values_list("name", flat=True)) == ["GOM"]
    assert _target("users", uid(1, 4), "accounts.User").target_id == str(ana.pk)
    assert _target("users", uid(1, 5), "accounts.User").target_id == str(existing_gom.pk)
    assert User.objects.filter(email=f"legacy-gom-{uid(1, 3)}@import.invalid").exists()

    # Methods: deduplicated per GOM across the table and the orders' JSON.
    methods = PaymentMethod.objects.filter(owner=ana).order_by("template_code")
    assert [(m.template_code, m.account_number, m.display_name) for m in methods] == [
        ("ph-bpi", "1234567890", "BPI"),
        ("ph-gcash", "09171234567", "GCash Ana"),
    ]
    gcash = methods[1]
    for legacy_id in (f"{uid(2, 1)}#0", f"{uid(2, 1)}#1"):
        entry = _target("orders.payment_methods", legacy_id, "payments.PaymentMethod")
        assert (entry.target_id, entry.created) == (str(gcash.pk), False)
    boost = PaymentMethod.objects.get(template_code="my-boost")
    assert boost.is_active is False
    assert _target("payment_methods", uid(5, 3), "payments.PaymentMethod").details == {
        "qr_code_url": "https://old.gomflow.example/qr/ben-boost.png"
    }

    # Orders and their single item.
    album = GroupOrder.objects.get(title="SEVENTEEN album GO")
    assert (album.currency, album.country, album.status, album.owner_id) == (
        "PHP",
        "PH",
        "open",
        ana.pk,
    )
    assert [(i.name, i.unit_price_minor) for i in album.items.all()] == [
        ("SEVENTEEN album GO", 125_000)
    ]
    assert sorted(album.accepted_methods.values_list("template_code", flat=True)) == [
        "ph-bpi",
        "ph-gcash",
    ]
    assert album.created_at.isoformat() == "2025-02-01T00:00:00+00:00"
    assert _target("orders", uid(2, 1), "payments.GroupOrder").details == {
        "slug": "svt-album",
        "min_orders": 10,
        "max_orders": 200,
    }
    assert GroupOrder.objects.get(title="Photocard set MY").status == "closed"

    # Submissions: statuses mapped, buyers one per address, the paid one verified at paid_at.
    carla = User.objects.get(email="carla@mail.com")
    carla_orders = Submission.objects.filter(buyer=carla).order_by("created_at")
    assert [(s.status, s.amount_due_minor, s.paid_minor, s.currency) for s in carla_orders] == [
        ("verified", 250_000, 250_000, "PHP"),
        ("rejected", 125_000, 0, "PHP"),
    ]
    assert carla_orders[0].verified_at.isoformat() == "2025-02-10T08:30:00+00:00"
    assert [(line.quantity, line.unit_price_minor) for line in carla_orders[0].lines.all()] == [
        (2, 125_000)
    ]
    # The rejection of Carla's second order keeps the GOM's reason, who and when.
    rejected = carla_orders[1]
    assert (
        rejected.verification_notes,
        rejected.verified_by,
        rejected.verified_at.isoformat(),
    ) == (
        "Amount does not match the order",
        ana,
        "2025-02-12T12:00:00+00:00",
    )
    # Paid without any record of the money: in the GOM's review queue, saying why.
    eve_paid = Submission.objects.get(buyer__email="eve@mail.my", amount_due_minor=13_650)
    assert (eve_paid.status, eve_paid.paid_minor, eve_paid.verified_at) == (
        "proof_submitted",
        0,
        None,
    )
    assert eve_paid.verification_notes.startswith("Marked paid on the earlier GOMFLOW platform")
    assert Submission.objects.get(buyer=ana).status == "expired"
    assert Submission.objects.get(buyer=existing_buyer).amount_due_minor == 9_999
    assert _target("submissions", uid(3, 1), "payments.Submission").details == {
        "payment_reference": "GF-0001",
        "legacy_status": "paid",
    }
    assert (
        AuditEvent.objects.filter(action="legacy.batch_imported", object_id=str(batch.pk)).count()
        == 1
    )


def _payment_of(legacy_table: str, legacy_id: str) -> Payment:
    return Payment.objects.get(pk=_target(legacy_table, legacy_id, "payments.Payment").target_id)


def test_payments_and_proofs_come_across_through_the_money_services(
    existing_accounts: tuple[User, User], legacy_source: str, proof_files: ProofServer
) -> None:
    operator = User.objects.create(email="operator@example.test", is_staff=True)
    first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    legacy_import_run(actor=operator, source_dsn=legacy_source, batch_name="b1", dry_run=False)

    # Each recorded transaction is a payment allocated in full to its submission.
    payments = [
        (
            p.currency,
            p.amount_minor,
            p.source,
            p.method_type,
            p.reference,
            p.paid_at.isoformat(),
            [(a.submission.code, a.amount_minor) for a in p.allocations.all()],
        )
        for p in (
            _payment_of("payment_transactions", uid(4, 1)),
            _payment_of("payment_transactions", uid(4, 5)),
            _payment_of("payment_transactions", uid(4, 6)),
            _payment_of("payment_transactions", uid(4, 8)),
            _payment_of("payment_proofs.payment", uid(6, 4)),
        )
    ]
    code = {
        n: Submission.objects.get(
            pk=_target("submissions", uid(3, n), "payments.Submission").target_id
        ).code
        for n in (1, 11, 12, 13)
    }
    assert payments == [
        ("PHP", 250_000, "manual", "gcash", "pay_123", "2025-02-10T08:30:00+00:00",
         [(code[1], 250_000)]),
        ("PHP", 100_000, "manual", "gcash", "pay_456", "2025-02-20T10:00:00+00:00",
         [(code[11], 100_000)]),
        ("PHP", 150_000, "manual", "", "pay_789", "2025-02-25T10:00:00+00:00",
         [(code[11], 150_000)]),
        ("PHP", 50_000, "manual", "maya", "pay_800", "2025-02-22T11:00:00+00:00",
         [(code[13], 50_000)]),
        # Paid without a transaction, but the GOM approved the proof: the approval is the payment.
        ("MYR", 4_550, "proof", "tng", "TNG-778899", "2025-02-21T15:00:00+00:00",
         [(code[12], 4_550)]),
    ]  # fmt: skip
    settled = {n: Submission.objects.get(code=code[n]) for n in (1, 11, 12, 13)}
    assert [
        (s.status, s.paid_minor, s.amount_due_minor, s.verified_at and s.verified_at.isoformat())
        for s in settled.values()
    ] == [
        ("verified", 250_000, 250_000, "2025-02-10T08:30:00+00:00"),
        ("verified", 250_000, 250_000, "2025-02-25T10:00:00+00:00"),
        ("verified", 4_550, 4_550, "2025-02-21T15:00:00+00:00"),
        ("partially_paid", 50_000, 125_000, None),
    ]
    # payment_record audited every payment and every state change it made, as the operator.
    events = AuditEvent.objects.filter(id__gt=first_event).order_by("id")
    assert [e.action for e in events if e.action != "legacy.batch_imported"] == [
        "submission.state_changed",
        "payment.recorded",
    ] * 5
    assert {e.actor_id for e in events} == {operator.pk}

    # Proofs whose file answered: stored encrypted, like an upload, with the legacy reading.
    proofs = {
        n: PaymentProof.objects.get(
            pk=_target("payment_proofs", uid(6, n), "verification.PaymentProof").target_id
        )
        for n in (2, 3, 4)
    }
    assert [
        (
            p.submission.code,
            p.uploaded_by_id == p.submission.buyer_id,
            p.original_name,
            p.content_type,
            p.sha256,
            p.reference,
            p.amount_minor,
            p.currency,
            p.analysis_status,
            p.suggestion,
        )
        for p in proofs.values()
    ] == [
        (
            Submission.objects.get(
                pk=_target("submissions", uid(3, 3), "payments.Submission").target_id
            ).code,
            True,
            "carla.png",
            "image/png",
            hashlib.sha256(FILES["/proofs/carla-rejected.png"][1]).hexdigest(),
            "5012345678901",
            120_000,
            "PHP",
            "done",
            "",
        ),
        (
            Submission.objects.get(
                pk=_target("submissions", uid(3, 9), "payments.Submission").target_id
            ).code,
            True,
            "IMG_0042.JPG",
            "image/jpeg",
            hashlib.sha256(FILES["/proofs/dan-review.jpg"][1]).hexdigest(),
            "7001234567890",
            100_000,
            "PHP",
            "done",
            "review",
        ),
        (
            code[12],
            True,
            "kai-approved.png",
            "image/png",
            hashlib.sha256(FILES["/proofs/kai-approved.png"][1]).hexdigest(),
            "TNG-778899",
            4_550,
            "MYR",
            "done",
            "",
        ),
    ]
    storage = storages["proofs"]
    for proof in proofs.values():
        assert storage.read_raw(proof.storage_name).startswith(MAGIC)
    assert proof_read_bytes(proofs[4])[:8] == b"\x89PNG\r\n\x1a\n"
    # A proof awaiting review puts its submission in the GOM's review queue.
    assert proofs[3].submission.status == "proof_submitted"
    assert _target("payment_proofs", uid(6, 4), "verification.PaymentProof").details == {
        "legacy_status": "approved",
        "verified_by": uid(1, 2),
        "verified_at": "2025-02-21T15:00:00+00:00",
        "rejection_reason": None,
        "extracted_amount_minor": 4_550,
        "extracted_reference": "TNG-778899",
        "file_url": f"{proof_files.base_url}/proofs/kai-approved.png",
        "file": "stored",
    }
    # A file that could not be had: the decision is kept on the submission's map row.
    missing = _target("payment_proofs", uid(6, 1), "payments.Submission")
    assert (missing.created, missing.target_id) == (
        False,
        _target("submissions", uid(3, 2), "payments.Submission").target_id,
    )
    assert {k: missing.details[k] for k in ("legacy_status", "file", "file_problem")} == {
        "legacy_status": "pending",
        "file": "missing",
        "file_problem": "the file at http://127.0.0.1:9/proofs/dan.jpg is unreachable "
        "([Errno 111] Connection refused)",
    }
    assert Submission.objects.get(pk=missing.target_id).status == "pending_payment"


def test_running_the_import_again_imports_nothing(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    proof_files: ProofServer,
    proof_root: Path,
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    counts = _counts()
    maps = LegacyIdMap.objects.count()
    files = stored_files(proof_root)
    money = list(Submission.objects.order_by("pk").values_list("pk", "status", "paid_minor"))
    proof_files.requests.clear()

    again = legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b2", dry_run=False)

    assert again.report["created"] == {}
    assert {table: c["already_imported"] for table, c in again.report["tables"].items()} == {
        "orders": 4,
        "orders.payment_methods": 6,
        "payment_methods": 3,
        "payment_proofs": 5,
        "payment_proofs.payment": 1,
        "payment_transactions": 4,
        "submissions": 12,
        "users": 5,
    }
    assert again.report["unimportable"] == [
        {"table": t, "id": i, "reason": r} for t, i, r in EXPECTED_UNIMPORTABLE
    ]
    assert again.validation is not None
    assert again.validation["payment_transactions"]["target"] == {
        "MYR recorded": {"rows": 1, "amount_minor": 4_550},
        "PHP recorded": {"rows": 4, "amount_minor": 550_000},
    }
    assert _counts() == counts
    assert LegacyIdMap.objects.count() == maps
    assert list(Submission.objects.order_by("pk").values_list("pk", "status", "paid_minor")) == (
        money
    )
    # Imported proofs are not downloaded again; only the refused row's file is tried.
    assert proof_files.requests == ["/proofs/gone.png"]
    assert stored_files(proof_root) == files


def test_a_batch_name_is_used_once(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    counts = _counts()

    with pytest.raises(LegacyImportError, match="A batch named 'b1' exists already"):
        legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)

    assert _counts() == counts
    assert ImportBatch.objects.count() == 1


def test_rollback_leaves_the_target_as_it_was_row_for_row(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    proof_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    operator = User.objects.create(email="operator@example.test", is_staff=True)
    before = _everything()

    legacy_import_run(actor=operator, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    assert len(stored_files(proof_root)) == 3
    assert Payment.history.count() == 5  # payment_record's own history rows: not a change
    with django_capture_on_commit_callbacks(execute=True):
        batch = legacy_batch_rollback(actor=operator, batch_name="b1")

    after = _everything()
    audited = {"audit_auditevent", "legacy_importbatch"}
    assert {t: r for t, r in after.items() if t not in audited} == {
        t: r for t, r in before.items() if t not in audited
    }
    assert batch.status == ImportBatch.Status.ROLLED_BACK
    assert list(
        # object_id alone is not unique across models (a payment may share the batch's pk).
        AuditEvent.objects.filter(object_id=str(batch.pk), action__startswith="legacy.batch_")
        .order_by("id")
        .values_list("action", "actor__email", "after")
    )[1] == (
        "legacy.batch_rolled_back",
        "operator@example.test",
        {
            "deleted": {
                "accounts.User": 11,
                "payments.GroupOrder": 4,
                "payments.GroupOrderItem": 4,
                "payments.Payment": 5,
                "payments.PaymentAllocation": 5,
                "payments.PaymentMethod": 6,
                "payments.Submission": 12,
                "payments.SubmissionLine": 12,
                "verification.PaymentProof": 3,
            }
        },
    )
    # The audit trail keeps the import, the 5 payments and 5 state changes, and the rollback.
    assert len(after["audit_auditevent"]) == len(before["audit_auditevent"]) + 12
    # The history the payments wrote went with them (compared above, table by table), and so
    # did the proof files.
    assert after["payments_historicalpayment"] == before["payments_historicalpayment"] == []
    assert stored_files(proof_root) == []
    # Rolled back, the same rows import again (and a second rollback is harmless).
    assert legacy_batch_rollback(actor=operator, batch_name="b1").status == "rolled_back"
    again = legacy_import_run(
        actor=operator, source_dsn=legacy_source, batch_name="b2", dry_run=False
    )
    assert again.report["created"] == EXPECTED_CREATED
    assert len(stored_files(proof_root)) == 3


def test_rollback_is_refused_when_imported_data_changed_since(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    dan = Submission.objects.get(buyer__email="dan@mail.com")
    submission_transition(actor=None, submission=dan, target="rejected")
    before = _everything()

    with pytest.raises(
        LegacyImportError, match=rf"payments.Submission {dan.pk} was changed after the import"
    ):
        legacy_batch_rollback(actor=None, batch_name="b1")

    assert _everything() == before


def test_rollback_is_refused_when_an_imported_payment_was_voided_since(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    payment = _payment_of("payment_transactions", uid(4, 8))
    payment_void(actor=None, payment=payment, reason="bounced at the bank")
    before = _everything()

    with pytest.raises(LegacyImportError, match="was changed after the import"):
        legacy_batch_rollback(actor=None, batch_name="b1")

    assert _everything() == before
    assert ImportBatch.objects.get(name="b1").status == ImportBatch.Status.IMPORTED


def test_proof_files_are_fetched_before_the_transaction_opens(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    proof_files: ProofServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proof_files.requests.clear()
    seen_when_locking: list[list[str]] = []
    original = legacy_services._lock

    def lock() -> None:
        seen_when_locking.append(list(proof_files.requests))
        original()

    monkeypatch.setattr(legacy_services, "_lock", lock)

    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)

    # Every download had happened when the batch took its lock, and none happened after.
    assert len(seen_when_locking) == 1
    assert sorted(seen_when_locking[0]) == sorted(proof_files.requests)
    assert len(proof_files.requests) == 5


@pytest.mark.parametrize(
    ("mapper", "group", "message"),
    [
        (
            SubmissionMapper,
            "PHP verified",
            "Validation failed: submissions PHP verified: source 2 rows / 500000, "
            "target + refused 2 rows / 499999",
        ),
        (
            PaymentMapper,
            "PHP recorded",
            "Validation failed: payment_transactions PHP recorded: source 7 rows / 1025000, "
            "target + refused 7 rows / 1024999",
        ),
    ],
)
def test_a_failed_validation_rolls_the_whole_batch_back(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    monkeypatch: pytest.MonkeyPatch,
    proof_root: Path,
    mapper: type[Any],
    group: str,
    message: str,
) -> None:
    before = _everything()
    original = mapper.target_facts

    def one_centavo_short(self: Any, target_ids: list[str]) -> dict[str, Any]:
        facts = original(self, target_ids)
        facts[group]["amount_minor"] -= 1
        return facts

    monkeypatch.setattr(mapper, "target_facts", one_centavo_short)

    with pytest.raises(LegacyImportError, match=re.escape(message)):
        legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)

    # No row (payments, their audit events and history included) and no proof file is left.
    assert _everything() == before
    assert stored_files(proof_root) == []


def test_imported_buyers_claim_their_accounts_by_e_mail(
    existing_accounts: tuple[User, User],
    legacy_source: str,
    client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    output = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "import_gomflow",
            f"--source={legacy_source}",
            "--batch=b1",
            "--send-claim-emails",
            "--base-url=https://pay.example.test",
            stdout=output,
        )

    assert "Sent 9 claim-your-account e-mails." in output.getvalue()
    # Placeholder addresses (.invalid) and accounts that existed before get no e-mail.
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == [
        "ben@example.my",
        "carla@mail.com",
        "dan@mail.com",
        "eve@mail.my",
        "gom.ana@example.com",
        "jo@mail.com",
        "kai@mail.my",
        "lia@mail.com",
        "max@mail.com",
    ]
    message = next(m for m in mail.outbox if m.to == ["carla@mail.com"])
    link = re.search(r"https://pay\.example\.test(/claim/\S+/)", message.body)
    assert link is not None

    first = client.get(link.group(1), follow=True)
    assert first.status_code == 200
    assert first.context["validlink"] is True
    done = client.post(
        first.redirect_chain[-1][0],
        {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"},
    )

    assert (done.status_code, done["Location"]) == (302, "/claim/done/")
    carla = User.objects.get(email="carla@mail.com")
    assert carla.check_password("a-long-new-passphrase")
    assert (
        AuditEvent.objects.filter(action="legacy.account_claimed", object_id=str(carla.pk)).count()
        == 1
    )
    assert client.get(link.group(1), follow=True).context["validlink"] is False


def test_the_command_prints_the_dry_run_and_rolls_back(
    existing_accounts: tuple[User, User], legacy_source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("import_gomflow", f"--source={legacy_source}", "--dry-run")
    printed = capsys.readouterr().out
    assert "  submissions                  14: 12 / 0 / 0 / 2" in printed
    assert "  payment_transactions          9: 4 / 0 / 0 / 5" in printed
    assert "  payment_proofs                6: 3 / 2 / 0 / 1" in printed
    assert f"  submissions/{uid(3, 8)}: quantity 0 is less than 1" in printed
    assert "Dry run: nothing was written." in printed
    assert ImportBatch.objects.count() == 0

    call_command("import_gomflow", f"--source={legacy_source}", "--batch=b1")
    call_command("import_gomflow", "--rollback=b1")
    assert "Batch b1 is rolled back" in capsys.readouterr().out
    assert Submission.objects.count() == 0

    with pytest.raises(CommandError, match="There is no import batch named 'nope'"):
        call_command("import_gomflow", "--rollback=nope")
    with pytest.raises(CommandError, match="Cannot connect to postgres://postgres:\\*\\*\\*@"):
        call_command(
            "import_gomflow", "--source=postgres://postgres:secret@127.0.0.1:1/none", "--dry-run"
        )


def test_rollback_waits_for_later_batches_that_link_to_its_objects(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    # The earlier platform gained a GOM row with an address batch b1 already brought in.
    with psycopg.connect(legacy_source) as source:
        source.execute(
            "INSERT INTO users (id, email, name) VALUES (%s, 'Carla@mail.com', 'Carla GOM')",
            [uid(1, 6)],
        )
    try:
        second = legacy_import_run(
            actor=None, source_dsn=legacy_source, batch_name="b2", dry_run=False
        )
        assert second.report["tables"]["users"]["link"] == 1
        before = _everything()

        with pytest.raises(LegacyImportError, match="Batch 'b2' maps legacy rows onto objects"):
            legacy_batch_rollback(actor=None, batch_name="b1")

        assert _everything() == before
        legacy_batch_rollback(actor=None, batch_name="b2")
        legacy_batch_rollback(actor=None, batch_name="b1")
        assert User.objects.filter(email="carla@mail.com").count() == 0
    finally:
        with psycopg.connect(legacy_source) as source:
            source.execute("DELETE FROM users WHERE id = %s", [uid(1, 6)])


def test_a_later_batch_records_only_the_payments_added_since(
    existing_accounts: tuple[User, User], legacy_source: str
) -> None:
    legacy_import_run(actor=None, source_dsn=legacy_source, batch_name="b1", dry_run=False)
    lia = Submission.objects.get(buyer__email="lia@mail.com")
    assert (lia.status, lia.paid_minor) == ("partially_paid", 50_000)
    # At the source, Lia's balance arrives; a second webhook row would pay her order twice.
    with psycopg.connect(legacy_source) as source:
        source.execute(
            "INSERT INTO payment_transactions (id, submission_id, gateway, gateway_payment_id, "
            "amount, currency, payment_method, paid_at) VALUES "
            "(%s, %s, 'paymongo', 'pay_900', 750.00, 'PHP', 'maya', '2025-03-01 09:00+00'), "
            "(%s, %s, 'paymongo', 'pay_901', 750.00, 'PHP', 'maya', '2025-03-01 09:05+00')",
            [uid(4, 10), uid(3, 13), uid(4, 11), uid(3, 13)],
        )
    try:
        second = legacy_import_run(
            actor=None, source_dsn=legacy_source, batch_name="b2", dry_run=False
        )

        assert second.report["created"] == {
            "payments.Payment": 1,
            "payments.PaymentAllocation": 1,
        }
        assert second.report["tables"]["payment_transactions"] == {
            "source_rows": 11,
            "create": 1,
            "link": 0,
            "already_imported": 4,
            "unimportable": 6,
        }
        assert second.report["unimportable"][-1] == {
            "table": "payment_transactions",
            "id": uid(4, 11),
            "reason": "the amount 75000 is more than the 0 left to pay on its submission: an "
            "overpayment is reported, not turned into credit",
        }
        lia.refresh_from_db()
        assert (lia.status, lia.paid_minor, lia.verified_at.isoformat()) == (
            "verified",
            125_000,
            "2025-03-01T09:00:00+00:00",
        )
        assert second.validation is not None
        assert second.validation["payment_transactions"]["target"]["PHP recorded"] == {
            "rows": 5,
            "amount_minor": 625_000,
        }
        b2_payment = _payment_of("payment_transactions", uid(4, 10))
        # The second batch is undone on its own: its payment paid a submission of b1, so it is
        # voided through payment_void (audited) before it goes, and Lia is partly paid again.
        legacy_batch_rollback(actor=None, batch_name="b2")
        lia.refresh_from_db()
        assert (lia.status, lia.paid_minor) == ("partially_paid", 50_000)
        assert not Payment.objects.filter(pk=b2_payment.pk).exists()
        assert Payment.objects.count() == 5
        assert list(
            AuditEvent.objects.filter(action="payment.voided").values_list("after", flat=True)
        ) == [{"reason": "Import batch b2 rolled back", "status": "voided"}]
        # b1 now holds a submission that changed after it (paid, then voided): its rollback is
        # refused rather than silently undoing that.
        with pytest.raises(LegacyImportError, match="was changed after the import"):
            legacy_batch_rollback(actor=None, batch_name="b1")
    finally:
        with psycopg.connect(legacy_source) as source:
            source.execute(
                "DELETE FROM payment_transactions WHERE id IN (%s, %s)", [uid(4, 10), uid(4, 11)]
            )
