"""Where hits show: a flag on the queue row, the review page's checks, the scoped FraudLog admin."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fraud.models import FraudLog
from fraud.services import fraud_check_proof
from payments.models import Payment, SubmissionStatus
from tests.factories import UserFactory
from tests.fraud.helpers import proof_at
from verification.models import PaymentProof, ProofReview

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:verification_proofreview_changelist")
FRAUD_LIST = reverse("admin:fraud_fraudlog_changelist")


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _shared_file_hit(order: object) -> FraudLog:
    sha = f"{order.pk:064x}"  # type: ignore[attr-defined]
    proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
    copy = proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
    [hit] = fraud_check_proof(proof_id=copy.pk)
    return hit


def test_the_queue_row_and_the_review_page_show_the_hit(personas: object) -> None:
    hit = _shared_file_hit(personas.order)  # type: ignore[attr-defined]
    original_code = hit.details["matches"][0]["submission_code"]
    client = _client(personas.owner)  # type: ignore[attr-defined]

    queue = client.get(QUEUE).content.decode()
    rows = queue.split('<tr class="queue-row"')[1:]
    flagged = [row for row in rows if "fraud: shared_proof_file" in row]
    assert len(rows) == 2
    assert len(flagged) == 1
    assert f'data-code="{hit.submission.code}"' in flagged[0]

    review = client.get(reverse("admin:verification_proofreview_change", args=[hit.proof_id]))
    page = review.content.decode()
    assert review.status_code == 200
    assert "Checks" in page
    assert f"same file as 1 other buyer(s): {original_code}" in page
    assert f'href="{FRAUD_LIST}?q={hit.submission.code}"' in page


def test_queue_queries_do_not_grow_with_flagged_rows(personas: object) -> None:
    order = personas.order  # type: ignore[attr-defined]
    client = _client(personas.owner)  # type: ignore[attr-defined]
    for _ in range(3):
        proof_at(buyer=UserFactory(), group_order=order)
    client.get(QUEUE)  # warm caches
    with CaptureQueriesContext(connection) as unflagged:
        client.get(QUEUE)
    sha = "34" * 32
    for _ in range(3):
        proof = proof_at(buyer=UserFactory(), group_order=order, sha256=sha)
        fraud_check_proof(proof_id=proof.pk)
    with CaptureQueriesContext(connection) as flagged:
        html = client.get(QUEUE).content.decode()
    assert html.count("fraud: shared_proof_file") == 2
    assert len(flagged.captured_queries) == len(unflagged.captured_queries)


@pytest.mark.parametrize(
    ("persona", "listed", "change_status"),
    [
        ("owner", 1, 200),
        ("assistant", 1, 200),  # granted view on the owner's order
        ("finance", 2, 200),
        ("other_gom", 1, 404),  # sees their own order's hit, never the owner's
    ],
)
def test_fraud_log_admin_shows_each_staff_member_only_their_scope(
    personas: object, persona: str, listed: int, change_status: int
) -> None:
    mine = _shared_file_hit(personas.order)  # type: ignore[attr-defined]
    theirs = _shared_file_hit(personas.other_order)  # type: ignore[attr-defined]
    client = _client(getattr(personas, persona))

    listing = client.get(FRAUD_LIST)
    change = client.get(reverse("admin:fraud_fraudlog_change", args=[mine.pk]))

    assert listing.status_code == 200
    assert listing.content.decode().count("same file as 1 other buyer(s)") == listed
    assert (mine.submission.code in listing.content.decode()) is (persona != "other_gom")
    assert (theirs.submission.code in listing.content.decode()) is (
        persona in ("finance", "other_gom")
    )
    assert change.status_code == change_status
    # Read-only for everyone: no add, no change, no delete.
    assert client.get(reverse("admin:fraud_fraudlog_add")).status_code == 403
    assert client.get(reverse("admin:app_list", args=["fraud"])).status_code == 200
    # The review page's link: the hits of one submission, by its code.
    searched = client.get(f"{FRAUD_LIST}?q={mine.submission.code}").content.decode()
    assert searched.count("same file as 1 other buyer(s)") == (0 if persona == "other_gom" else 1)
    history = client.get(reverse("admin:fraud_fraudlog_history", args=[mine.pk]))
    assert history.status_code == change_status
    delete = client.post(reverse("admin:fraud_fraudlog_delete", args=[mine.pk]))
    assert delete.status_code == (404 if persona == "other_gom" else 403)
    assert FraudLog.objects.count() == 2


@pytest.mark.parametrize("persona", ["buyer", "anonymous"])
def test_buyers_and_strangers_never_reach_the_fraud_log(personas: object, persona: str) -> None:
    hit = _shared_file_hit(personas.order)  # type: ignore[attr-defined]
    client = Client() if persona == "anonymous" else _client(personas.buyer)  # type: ignore[attr-defined]
    for url in (FRAUD_LIST, reverse("admin:fraud_fraudlog_change", args=[hit.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_a_flagged_row_is_left_out_of_a_bulk_approval(personas: object) -> None:
    from verification.decisions import Outcome, submissions_decide_bulk

    hit = _shared_file_hit(personas.order)  # type: ignore[attr-defined]
    flagged = hit.submission
    unflagged = next(
        review.submission
        for review in ProofReview.objects.filter(group_order=personas.order)  # type: ignore[attr-defined]
        if review.submission_id != flagged.pk
    )
    # The agent read the amount due on both (the helper leaves proofs unread).
    PaymentProof.objects.filter(submission__in=[flagged, unflagged]).update(
        analysis_status="done", amount_minor=125_000
    )
    results = submissions_decide_bulk(
        actor=personas.owner,  # type: ignore[attr-defined]
        action="approve",
        submission_ids=[flagged.pk, unflagged.pk],
    )
    assert [(result.submission_id, result.outcome) for result in results] == [
        (flagged.pk, Outcome.NEEDS_SINGLE_REVIEW),
        (unflagged.pk, Outcome.APPROVED),
    ]
    assert results[0].message == (
        "Flagged (fraud: shared_proof_file): open it and decide on its own."
    )
    flagged.refresh_from_db()
    assert flagged.status == SubmissionStatus.PROOF_SUBMITTED
    assert ProofReview.objects.get(pk=hit.proof_id).state == ProofReview.State.AWAITING
    assert Payment.objects.filter(allocations__submission=flagged).count() == 0
