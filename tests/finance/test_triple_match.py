"""The triple match: proof + statement line + submission agree → "confirmed by statement";
group orders that opted in are approved by the system, with the evidence in the audit trail."""

from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from payments.models import Payment, Submission
from payments.reconciliation.models import StatementLine, StatementMatch
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.finance.helpers import account, import_file
from verification.models import PaymentProof
from verification.triple_match import (
    auto_approve_confirmed,
    statement_confirmation_for_submissions,
    statement_confirmed_submission_ids,
    triple_match_auto_approve_task,
)

GCASH = (
    "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
    "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
    "2026-03-02 9:20 AM,Received GCash from 09170000002,9000111222444,,500.00,\n"
)


def _proof(submission: Submission, reference: str, amount_minor: int, **extra: Any) -> PaymentProof:
    return PaymentProof.objects.create(
        submission=submission,
        uploaded_by=submission.buyer,
        storage_name=f"proof-{submission.pk}-{reference}",
        original_type="image/png",
        content_type="image/png",
        size_bytes=1000,
        sha256="0" * 64,
        scan_status="clean",
        analysis_status="done",
        provider="gcash",
        reference=reference,
        amount_minor=amount_minor,
        currency="PHP",
        confidence=Decimal("0.930"),
        **extra,
    )


@pytest.fixture
def setup(db: None) -> dict[str, Any]:
    method = account("ph-gcash")
    order = GroupOrderFactory(owner=method.owner)
    submissions = [
        SubmissionFactory(
            group_order=order,
            buyer=UserFactory(),
            amount_due_minor=amount,
            payment_method=method,
            status="proof_submitted",
        )
        for amount in (125_000, 50_000, 70_000)
    ]
    # Agrees; agrees but flagged a duplicate; reference read as on the line but amount differs.
    _proof(submissions[0], "9000 111 222 333", 125_000)
    _proof(
        submissions[1],
        "9000111222444",
        50_000,
        flags=[{"code": "duplicate_reference", "proof": 1}],
    )
    _proof(submissions[2], "9000111222444", 70_000)
    import_file(method, GCASH.encode(), preset="gcash")
    return {"method": method, "order": order, "submissions": submissions}


def test_queue_sees_which_submissions_the_statement_confirms(setup: dict[str, Any]) -> None:
    first, second, third = setup["submissions"]

    confirmed = statement_confirmation_for_submissions([first.pk, second.pk, third.pk])

    assert {pk: line.reference for pk, line in confirmed.items()} == {
        first.pk: "9000111222333",
        second.pk: "9000111222444",
    }
    # The queue's badge reads the same answer as plain values.
    assert statement_confirmed_submission_ids([first.pk, second.pk, third.pk]) == {
        first.pk,
        second.pk,
    }


def test_another_gom_statement_confirms_nothing(setup: dict[str, Any]) -> None:
    other = account("ph-gcash")
    order = GroupOrderFactory(owner=other.owner)
    stranger = SubmissionFactory(
        group_order=order, amount_due_minor=125_000, payment_method=other, status="proof_submitted"
    )
    _proof(stranger, "9000111222333", 125_000)

    assert statement_confirmation_for_submissions([stranger.pk]) == {}
    assert statement_confirmed_submission_ids([stranger.pk]) == set()


def test_auto_approval_off_by_default_changes_nothing(setup: dict[str, Any]) -> None:
    events = AuditEvent.objects.count()

    assert triple_match_auto_approve_task.delay().get() == 0

    assert (
        list(
            Submission.objects.filter(pk__in=[s.pk for s in setup["submissions"]]).values_list(
                "status", flat=True
            )
        )
        == ["proof_submitted"] * 3
    )
    assert Payment.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_opted_in_order_is_approved_by_the_system_with_the_evidence(
    setup: dict[str, Any],
) -> None:
    order, (first, second, third) = setup["order"], setup["submissions"]
    order.auto_approve_statement_confirmed = True
    order.save(update_fields=["auto_approve_statement_confirmed"])

    approved = auto_approve_confirmed()
    again = auto_approve_confirmed()

    assert (approved, again) == (1, 0)
    first.refresh_from_db()
    assert (first.status, first.paid_minor) == ("verified", 125_000)
    assert Submission.objects.get(pk=second.pk).status == "proof_submitted"
    assert Submission.objects.get(pk=third.pk).status == "proof_submitted"
    payment = Payment.objects.get()
    assert (payment.source, payment.reference, payment.amount_minor, payment.recorded_by) == (
        "proof",
        "9000 111 222 333",
        125_000,
        None,
    )
    line = StatementLine.objects.get(reference="9000111222333")
    match = StatementMatch.objects.get()
    assert (match.line, match.payment, match.kind, match.status) == (
        line,
        payment,
        "triple",
        "confirmed",
    )
    assert line.match_status == "matched"
    event = AuditEvent.objects.get(action="submission.auto_approved")
    proof = first.proofs.get()
    assert event.actor is None
    assert event.object_id == str(first.pk)
    assert event.after == {
        "status": "verified",
        "decided_by": "system: confirmed by statement",
        "payment": payment.pk,
        "evidence": {
            "proof": proof.pk,
            "proof_reference": "9000 111 222 333",
            "proof_amount_minor": 125_000,
            "proof_provider": "gcash",
            "agent_confidence": 0.93,
            "statement": line.statement_id,
            "statement_line": line.pk,
            "line_reference": "9000111222333",
            "line_amount_minor": 125_000,
            "line_posted_at": line.posted_at.isoformat(),
            "amount_due_minor": 125_000,
        },
    }
    # Once used, the line confirms nothing else.
    assert statement_confirmation_for_submissions([first.pk]) == {}
    assert statement_confirmed_submission_ids([first.pk]) == set()
