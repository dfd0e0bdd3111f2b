"""Bulk approval through the money core's batch path writes what one-at-a-time approval writes.

Twin queues are decided two ways, one by ``submission_approve`` per row and one by a single
``submissions_decide_bulk``; every row either way (submission, payment, allocation, review, credit,
audit events, history, e-mails, webhook deliveries) must come out the same, and the batch must use
the same number of statements for 20 approvals as for 60.
"""

import re
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from payments.models import FeeRule, Payment, PaymentAllocation, Submission
from tests.dashboard.helpers import queued, review_of
from tests.factories import PaymentMethodFactory, UserFactory
from verification.decisions import Outcome, submission_approve, submissions_decide_bulk
from wallet.models import CreditGrant
from webhooks.models import Delivery
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

# (amount due, amount read): paid in full, in part, over (credit), and nothing read.
CASES = [(125_000, 125_000), (125_000, 100_000), (125_000, 130_000), (80_000, None)]


def _queue(personas: Any) -> list[Submission]:
    buyer = UserFactory()
    gcash = PaymentMethodFactory(owner=personas.owner, template_code="ph-gcash")
    cash = PaymentMethodFactory(
        owner=personas.owner, template_code="ph-cash", method_type="cash", display_name="Cash"
    )
    return [
        queued(
            group_order=personas.order,
            buyer=buyer,
            amount_due_minor=due,
            amount_read_minor=read,
            method=gcash if n % 2 == 0 else cash,
        )
        for n, (due, read) in enumerate(CASES)
    ]


def _without_ids(text: str) -> str:
    return re.sub(r"#\d+", "#N", text)


def _snapshot(submission: Submission, versions: dict[int, int]) -> dict[str, Any]:
    submission.refresh_from_db()
    review = review_of(submission)
    payments = list(Payment.objects.filter(allocations__submission=submission))
    targets = [(Submission, submission.pk), (type(review), review.pk)]
    targets += [(Payment, payment.pk) for payment in payments]
    actions = sorted(
        action
        for model, pk in targets
        for action in AuditEvent.objects.filter(
            object_type__model=model._meta.model_name, object_id=str(pk)
        ).values_list("action", flat=True)
    )
    latest = submission.history.order_by("-history_id").first()
    return {
        "status": submission.status,
        "paid": submission.paid_minor,
        "version_moved": submission.version - versions[submission.pk],
        "verified_by": submission.verified_by_id,
        "notes": _without_ids(submission.verification_notes),
        "history": (
            latest.status,
            latest.paid_minor,
            _without_ids(latest.history_change_reason or ""),
        ),
        "review": (review.state, review.decided_by_id, review.amount_approved_minor),
        "review_paid": review.payment_id is not None,
        "payments": [
            (
                p.amount_minor,
                p.allocated_minor,
                p.credited_minor,
                p.fee_minor,
                p.fee_rule_id,
                p.source,
                p.method_type,
                p.reference == review.reference,
                p.recorded_by_id,
                p.paid_at == review.proof.paid_at,
                p.idempotency_key == f"proof:{review.proof_id}:approval",
                p.payment_method_id == submission.payment_method_id,
            )
            for p in payments
        ],
        "allocations": list(
            PaymentAllocation.objects.filter(submission=submission).values_list(
                "amount_minor", flat=True
            )
        ),
        "credit": list(
            CreditGrant.objects.filter(buyer=submission.buyer).values_list(
                "amount_minor", flat=True
            )
        ),
        "audit": actions,
        "webhooks": sorted(
            Delivery.objects.filter(payload__data__submission=submission.code).values_list(
                "event_type", flat=True
            )
        )
        + sorted(
            Delivery.objects.filter(
                payload__data__payment_id__in=[p.pk for p in payments]
            ).values_list("event_type", flat=True)
        ),
        "mails": sorted(
            message.subject.replace(submission.code, "CODE")
            for message in mail.outbox
            if submission.code in message.subject
        ),
    }


def test_bulk_approval_writes_exactly_what_single_approvals_write(
    personas: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    # The default fee rules are in force: GCash 3.5% + PHP 10, cash none.
    assert FeeRule.objects.filter(method_type="gcash", currency="PHP").exists()
    webhook_endpoint_create(
        actor=personas.owner,
        owner=personas.owner,
        url="http://127.0.0.1:9/hooks",
        event_types=["submission.verified", "payment.recorded"],
    )
    one_by_one, in_bulk = _queue(personas), _queue(personas)
    versions = {s.pk: s.version for s in one_by_one + in_bulk}

    with django_capture_on_commit_callbacks(execute=True):
        singles = [submission_approve(actor=personas.owner, submission_id=s.pk) for s in one_by_one]
    with django_capture_on_commit_callbacks(execute=True):
        bulk = submissions_decide_bulk(
            actor=personas.owner, action="approve", submission_ids=[s.pk for s in in_bulk]
        )

    assert [r.outcome for r in bulk] == [
        Outcome.APPROVED,
        Outcome.APPROVED,
        Outcome.APPROVED,
        Outcome.INVALID,
    ]
    assert [r.outcome for r in singles] == [r.outcome for r in bulk]
    assert [_without_ids(r.message) for r in singles] == [_without_ids(r.message) for r in bulk]
    assert [r.status for r in singles] == [r.status for r in bulk]
    for single, batched in zip(one_by_one, in_bulk, strict=True):
        assert _snapshot(single, versions) == _snapshot(batched, versions)
    # The figures themselves, not only their equality.
    first = _snapshot(in_bulk[0], versions)
    assert first["status"] == "verified"
    # GCash's default fee: 3.5% of ₱1,250.00 + ₱10.00.
    assert first["payments"][0][:4] == (125_000, 125_000, 0, 5_375)
    assert first["audit"] == [
        "payment.recorded",
        "submission.state_changed",
        "verification.approved",
    ]
    assert first["webhooks"] == ["submission.verified", "payment.recorded"]
    assert _snapshot(in_bulk[1], versions)["status"] == "partially_paid"
    assert _snapshot(in_bulk[2], versions)["credit"] == [5_000]
    assert Payment.objects.count() == 6
    assert len(mail.outbox) == 6


def test_the_batch_uses_the_same_statements_for_20_and_60_approvals(personas: Any) -> None:
    method = PaymentMethodFactory(owner=personas.owner)
    counts = []
    # The first run also fills per-process caches (content types), so it is not counted.
    for size in (5, 20, 60):
        ids = [queued(group_order=personas.order, method=method).pk for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            results = submissions_decide_bulk(
                actor=personas.owner, action="approve", submission_ids=ids
            )
        assert [r.outcome for r in results] == [Outcome.APPROVED] * size
        counts.append(len(queries))
    assert counts[1] == counts[2]
    assert Payment.objects.count() == 85
    assert Submission.objects.filter(status="verified").count() == 85
    assert AuditEvent.objects.filter(action="verification.approved").count() == 85
