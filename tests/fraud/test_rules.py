"""Each fraud rule: no hit at its limit, a hit at limit + 1, exact rows, re-runs add nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from fraud.models import FraudLog, Rule
from fraud.services import fraud_check_proof, fraud_check_submission
from payments.models import SubmissionStatus
from tests.factories import GroupOrderFactory, SubmissionFactory, UserFactory
from tests.fraud.helpers import proof_at, submission_at
from verification.models import ProofReview

pytestmark = pytest.mark.django_db


def _flagged_events() -> int:
    return AuditEvent.objects.filter(action="fraud.flagged").count()


def test_submissions_per_hour_hits_the_eleventh_submission_and_not_the_tenth() -> None:
    buyer = UserFactory()
    first_order, second_order = GroupOrderFactory(), GroupOrderFactory()
    now = timezone.now()
    submissions = [
        submission_at(
            buyer=buyer,
            group_order=first_order if index % 2 else second_order,
            created_at=now - timedelta(minutes=59) + timedelta(seconds=index),
        )
        for index in range(10)
    ]
    for submission in submissions:
        assert fraud_check_submission(submission_id=submission.pk) == []
    assert FraudLog.objects.count() == 0
    # Another buyer's submissions never count towards this buyer's, nor one exactly an hour
    # before the new one (the window is the hour up to it, its start excluded).
    SubmissionFactory(group_order=first_order)
    submission_at(buyer=buyer, group_order=first_order, created_at=now - timedelta(hours=1))

    eleventh = submission_at(buyer=buyer, group_order=first_order, created_at=now)
    [hit] = fraud_check_submission(submission_id=eleventh.pk)

    assert FraudLog.objects.count() == 1
    hit.refresh_from_db()
    assert hit.rule == Rule.SUBMISSIONS_PER_HOUR
    assert (hit.buyer_id, hit.submission_id, hit.proof_id, hit.group_order_id) == (
        buyer.pk,
        eleventh.pk,
        None,
        first_order.pk,
    )
    assert hit.details == {"count": 11, "limit": 10, "window_seconds": 3600}
    assert _flagged_events() == 1
    # Never a block: the submission is untouched.
    eleventh.refresh_from_db()
    assert eleventh.status == SubmissionStatus.PENDING_PAYMENT
    assert eleventh.version == 1


@pytest.mark.parametrize(
    ("currency", "limit"), [("PHP", 2_500_000), ("MYR", 200_000)], ids=["PHP", "MYR"]
)
def test_amount_over_limit_hits_one_minor_unit_above_the_limit(currency: str, limit: int) -> None:
    order = GroupOrderFactory(currency=currency, country="PH" if currency == "PHP" else "MY")
    at_limit = SubmissionFactory(group_order=order, amount_due_minor=limit)
    above = SubmissionFactory(group_order=order, amount_due_minor=limit + 1)

    assert fraud_check_submission(submission_id=at_limit.pk) == []
    [hit] = fraud_check_submission(submission_id=above.pk)

    assert FraudLog.objects.count() == 1
    assert (hit.rule, hit.submission_id, hit.buyer_id) == (
        Rule.AMOUNT_OVER_LIMIT,
        above.pk,
        above.buyer_id,
    )
    assert hit.details == {"amount_minor": limit + 1, "currency": currency, "limit_minor": limit}
    assert _flagged_events() == 1


def test_amount_limit_comes_from_the_settings(settings: pytest.FixtureRequest) -> None:
    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 1_000, "MYR": 1_000}  # type: ignore[attr-defined]
    submission = SubmissionFactory(amount_due_minor=1_001)
    [hit] = fraud_check_submission(submission_id=submission.pk)
    assert hit.details == {"amount_minor": 1_001, "currency": "PHP", "limit_minor": 1_000}


def test_proofs_per_hour_hits_the_sixth_proof_and_not_the_fifth() -> None:
    buyer, order = UserFactory(), GroupOrderFactory()
    now = timezone.now()
    proofs = [
        proof_at(buyer=buyer, group_order=order, created_at=now - timedelta(minutes=50 - index))
        for index in range(5)
    ]
    for proof in proofs:
        assert fraud_check_proof(proof_id=proof.pk) == []
    # Not counted: someone else's proof, and one exactly an hour before the new one.
    proof_at(buyer=UserFactory(), group_order=order, created_at=now)
    proof_at(buyer=buyer, group_order=order, created_at=now - timedelta(hours=1))

    sixth = proof_at(buyer=buyer, group_order=order, created_at=now)
    [hit] = fraud_check_proof(proof_id=sixth.pk)

    assert FraudLog.objects.count() == 1
    assert (hit.rule, hit.proof_id, hit.submission_id, hit.buyer_id, hit.group_order_id) == (
        Rule.PROOFS_PER_HOUR,
        sixth.pk,
        sixth.submission_id,
        buyer.pk,
        order.pk,
    )
    assert hit.details == {"count": 6, "limit": 5, "window_seconds": 3600}
    assert _flagged_events() == 1


def test_shared_proof_file_hits_the_second_buyer_only() -> None:
    order = GroupOrderFactory()
    first_buyer, second_buyer = UserFactory(), UserFactory()
    sha = "ab" * 32
    original = proof_at(buyer=first_buyer, group_order=order, sha256=sha)
    again_by_same_buyer = proof_at(buyer=first_buyer, group_order=order, sha256=sha)
    copy = proof_at(buyer=second_buyer, group_order=order, sha256=sha)

    assert fraud_check_proof(proof_id=original.pk) == []
    assert fraud_check_proof(proof_id=again_by_same_buyer.pk) == []  # one buyer, not several
    [hit] = fraud_check_proof(proof_id=copy.pk)
    # Checking the first proof again later does not turn the genuine receipt into a hit.
    assert fraud_check_proof(proof_id=original.pk) == []

    assert FraudLog.objects.count() == 1
    assert (hit.rule, hit.proof_id, hit.buyer_id) == (
        Rule.SHARED_PROOF_FILE,
        copy.pk,
        second_buyer.pk,
    )
    assert hit.details == {
        "sha256": sha,
        "other_buyers": 1,
        "matches": [
            {
                "proof": original.pk,
                "submission": original.submission_id,
                "submission_code": original.submission.code,
            },
            {
                "proof": again_by_same_buyer.pk,
                "submission": again_by_same_buyer.submission_id,
                "submission_code": again_by_same_buyer.submission.code,
            },
        ],
    }


def test_shared_reference_matches_the_normalized_reference_of_another_buyer() -> None:
    order = GroupOrderFactory()
    first = proof_at(buyer=UserFactory(), group_order=order, reference="gc-1234 5678")
    other_reference = proof_at(buyer=UserFactory(), group_order=order, reference="GC12345679")
    later = proof_at(buyer=UserFactory(), group_order=order, reference="GC12345678")

    assert fraud_check_proof(proof_id=first.pk) == []
    assert fraud_check_proof(proof_id=other_reference.pk) == []
    [hit] = fraud_check_proof(proof_id=later.pk)

    assert FraudLog.objects.count() == 1
    assert (hit.rule, hit.proof_id) == (Rule.SHARED_REFERENCE, later.pk)
    assert hit.details == {
        "reference": "GC12345678",
        "other_buyers": 1,
        "matches": [
            {
                "proof": first.pk,
                "submission": first.submission_id,
                "submission_code": first.submission.code,
            }
        ],
    }


def test_shared_reference_of_the_same_buyer_or_an_empty_reference_is_no_hit() -> None:
    order, buyer = GroupOrderFactory(), UserFactory()
    first = proof_at(buyer=buyer, group_order=order, reference="GC12345678")
    second = proof_at(buyer=buyer, group_order=order, reference="gc 1234 5678")
    unread = proof_at(buyer=UserFactory(), group_order=order, reference="")
    for proof in (first, second, unread):
        assert fraud_check_proof(proof_id=proof.pk) == []
    assert FraudLog.objects.count() == 0


def test_running_a_check_again_writes_nothing_new(settings: pytest.FixtureRequest) -> None:
    settings.FRAUD_MAX_PROOFS_PER_HOUR = 0  # type: ignore[attr-defined]
    order, sha = GroupOrderFactory(), "cd" * 32
    proof_at(buyer=UserFactory(), group_order=order, sha256=sha, reference="REF0001")
    proof = proof_at(buyer=UserFactory(), group_order=order, sha256=sha, reference="REF-0001")
    first_run = fraud_check_proof(proof_id=proof.pk)
    assert sorted(hit.rule for hit in first_run) == [
        Rule.PROOFS_PER_HOUR,
        Rule.SHARED_PROOF_FILE,
        Rule.SHARED_REFERENCE,
    ]
    rows = list(FraudLog.objects.order_by("pk").values())
    events = _flagged_events()

    assert fraud_check_proof(proof_id=proof.pk) == []

    assert list(FraudLog.objects.order_by("pk").values()) == rows
    assert _flagged_events() == events == 3


def test_hits_are_copied_onto_the_queue_row_of_the_submission(
    settings: pytest.FixtureRequest,
) -> None:
    settings.FRAUD_AMOUNT_LIMITS_MINOR = {"PHP": 100_000}  # type: ignore[attr-defined]
    order, sha = GroupOrderFactory(), "ef" * 32
    proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
    proof = proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
    submission = proof.submission  # 125,000 due: over the lowered limit

    fraud_check_submission(submission_id=submission.pk)
    review = ProofReview.objects.get(pk=proof.pk)
    assert review.fraud_hits == [
        {"rule": "amount_over_limit", "summary": "amount ₱1,250.00 over the limit ₱1,000.00"},
    ]
    fraud_check_proof(proof_id=proof.pk)
    review.refresh_from_db()
    assert review.fraud_hits == [
        {"rule": "amount_over_limit", "summary": "amount ₱1,250.00 over the limit ₱1,000.00"},
        {
            "rule": "shared_proof_file",
            "summary": f"same file as 1 other buyer(s): {proof_code(order, sha, proof)}",
        },
    ]


def proof_code(order: object, sha: str, proof: object) -> str:
    from verification.models import PaymentProof

    earlier = PaymentProof.objects.filter(sha256=sha).exclude(pk=proof.pk).get()  # type: ignore[attr-defined]
    return earlier.submission.code


def test_shared_reference_lookup_can_use_the_normalized_reference_index() -> None:
    # The rule's expression and the index's must stay the same SQL, or the lookup becomes a
    # scan of every proof. With sequential scans priced out, the plan shows which index serves.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fraud.rules import shared_reference

    proof = proof_at(buyer=UserFactory(), group_order=GroupOrderFactory(), reference="GC-12345678")
    with CaptureQueriesContext(connection) as queries:
        assert shared_reference(proof) == []
    [lookup] = [query["sql"] for query in queries.captured_queries if "REPLACE(" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {lookup}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "proof_reference_normalized" in plan
