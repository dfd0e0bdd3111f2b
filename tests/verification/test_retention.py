"""Proof retention: files go PROOF_RETENTION_DAYS after the final decision; rows, hashes, money stay."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from PIL import Image

from audit.models import AuditEvent
from payments.models import Payment, Submission
from tests.conftest import Personas
from tests.factories import SubmissionFactory
from tests.verification.conftest import stored_files
from verification.decisions import submission_approve, submission_reject
from verification.models import PaymentProof, PurgeReason, ReviewState
from verification.retention import purge_expired_proof_files
from verification.services import proof_submit
from verification.tasks import purge_expired_proof_files_task

DECIDED = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _proof(submission: Submission, colour: str) -> PaymentProof:
    return proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(_png(colour)),
        original_name="gcash receipt.png",
    )


def _approved(personas: Personas, colour: str = "red") -> PaymentProof:
    with time_machine.travel(DECIDED - timedelta(hours=1), tick=False):
        proof = _proof(personas.submission, colour)
    with time_machine.travel(DECIDED, tick=False):
        result = submission_approve(
            actor=personas.owner, submission_id=personas.submission.pk, amount_minor=125_000
        )
    assert result.is_done
    return proof


def _snapshot(proof: PaymentProof) -> tuple[object, ...]:
    proof.refresh_from_db()
    review = proof.review
    return (
        proof.sha256,
        proof.perceptual_hash,
        proof.size_bytes,
        proof.amount_minor,
        proof.reference,
        review.state,
        review.amount_approved_minor,
        review.decided_at,
    )


def _money() -> list[tuple[int, int, int]]:
    return list(Payment.objects.order_by("pk").values_list("pk", "amount_minor", "allocated_minor"))


@pytest.mark.django_db
def test_file_is_kept_the_day_before_retention_ends_and_deleted_the_day_after(
    personas: Personas, proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_RETENTION_DAYS = 180  # type: ignore[attr-defined]
    proof = _approved(personas)
    before = _snapshot(proof)
    money_before = _money()
    assert money_before[0][1:] == (125_000, 125_000)

    with time_machine.travel(DECIDED + timedelta(days=179), tick=False):
        report = purge_expired_proof_files()
    assert report.purged == []
    assert len(stored_files(proof_root)) == 1
    proof.refresh_from_db()
    assert proof.file_purged_at is None

    day_after = DECIDED + timedelta(days=181)
    with time_machine.travel(day_after, tick=False):
        report = purge_expired_proof_files()
    assert report.purged == [proof.pk]
    assert report.failed == []
    assert stored_files(proof_root) == []
    proof.refresh_from_db()
    assert proof.file_purged_at == day_after
    assert proof.file_purge_reason == PurgeReason.RETENTION
    assert _snapshot(proof) == before
    assert _money() == money_before
    event = AuditEvent.objects.get(action="proof.file_purged")
    assert (event.object_id, event.actor_id) == (str(proof.pk), None)
    assert event.after == {"reason": "retention", "retention_days": 180}


@pytest.mark.django_db
def test_exactly_n_days_after_the_decision_the_file_goes(
    personas: Personas, proof_root: Path
) -> None:
    proof = _approved(personas)
    with time_machine.travel(DECIDED + timedelta(days=180) - timedelta(seconds=1), tick=False):
        assert purge_expired_proof_files().purged == []
    with time_machine.travel(DECIDED + timedelta(days=180), tick=False):
        assert purge_expired_proof_files().purged == [proof.pk]


@pytest.mark.django_db
def test_undecided_proofs_are_never_purged(personas: Personas, proof_root: Path) -> None:
    with time_machine.travel(DECIDED, tick=False):
        proof = _proof(personas.submission, "green")
    with time_machine.travel(DECIDED + timedelta(days=3650), tick=False):
        report = purge_expired_proof_files()
    assert report.purged == []
    assert len(stored_files(proof_root)) == 1
    proof.refresh_from_db()
    assert (proof.file_purged_at, proof.review.state) == (None, ReviewState.AWAITING)
    assert not AuditEvent.objects.filter(action="proof.file_purged").exists()


@pytest.mark.django_db
def test_rejected_proofs_follow_the_same_clock(personas: Personas, proof_root: Path) -> None:
    with time_machine.travel(DECIDED - timedelta(hours=1), tick=False):
        proof = _proof(personas.submission, "blue")
    with time_machine.travel(DECIDED, tick=False):
        submission_reject(
            actor=personas.owner,
            submission_id=personas.submission.pk,
            reason_code="unreadable",
        )
    with time_machine.travel(DECIDED + timedelta(days=181), tick=False):
        assert purge_expired_proof_files().purged == [proof.pk]
    proof.refresh_from_db()
    assert proof.review.state == ReviewState.REJECTED
    assert stored_files(proof_root) == []


@pytest.mark.django_db
def test_running_twice_gives_the_same_result(personas: Personas, proof_root: Path) -> None:
    proof = _approved(personas)
    first_run = DECIDED + timedelta(days=200)
    with time_machine.travel(first_run, tick=False):
        first = purge_expired_proof_files_task.delay().get()
    with time_machine.travel(first_run + timedelta(days=1), tick=False):
        second = purge_expired_proof_files_task.delay().get()
    assert first["purged"] == 1
    assert second == {
        "purged": 0,
        "failed": 0,
        "failed_ids": [],
        "cutoff": (first_run + timedelta(days=1) - timedelta(days=180)).isoformat(),
    }
    proof.refresh_from_db()
    assert proof.file_purged_at == first_run
    assert AuditEvent.objects.filter(action="proof.file_purged").count() == 1
    assert stored_files(proof_root) == []


@pytest.mark.django_db
def test_a_run_deletes_at_most_one_batch(
    personas: Personas, proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_PURGE_BATCH_SIZE = 2  # type: ignore[attr-defined]
    proofs = []
    for colour in ("red", "green", "blue"):
        submission = SubmissionFactory(group_order=personas.order)
        with time_machine.travel(DECIDED - timedelta(hours=1), tick=False):
            proofs.append(_proof(submission, colour))
        with time_machine.travel(DECIDED, tick=False):
            submission_approve(
                actor=personas.owner, submission_id=submission.pk, amount_minor=125_000
            )
    later = DECIDED + timedelta(days=190)
    with time_machine.travel(later, tick=False):
        first = purge_expired_proof_files()
        second = purge_expired_proof_files()
        third = purge_expired_proof_files()
    assert first.purged == [proofs[0].pk, proofs[1].pk]
    assert second.purged == [proofs[2].pk]
    assert third.purged == []
    assert stored_files(proof_root) == []


@pytest.mark.django_db
def test_a_file_already_gone_is_still_marked(personas: Personas, proof_root: Path) -> None:
    # A run that deleted the file and died before marking the row: the next run finishes it.
    proof = _approved(personas)
    for path in stored_files(proof_root):
        path.unlink()
    with time_machine.travel(DECIDED + timedelta(days=181), tick=False):
        assert purge_expired_proof_files().purged == [proof.pk]


@pytest.mark.django_db
def test_purged_proof_answers_410_with_the_reason(
    personas: Personas, proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    proof = _approved(personas)
    with time_machine.travel(DECIDED + timedelta(days=31), tick=False):
        purge_expired_proof_files()
    views_before = AuditEvent.objects.filter(action="proof.viewed").count()
    client = Client()
    client.force_login(personas.owner)
    response = client.get(reverse("verification:proof-file", args=[proof.pk]))
    assert response.status_code == 410
    assert response.content.decode() == "File deleted after 30 days (retention)."
    thumbnail = client.get(reverse("verification:proof-thumbnail", args=[proof.pk]))
    assert (thumbnail.status_code, thumbnail["Content-Type"]) == (410, "image/svg+xml")
    # Nobody saw anything, so no view is recorded.
    assert AuditEvent.objects.filter(action="proof.viewed").count() == views_before

    buyer = Client()
    buyer.force_login(personas.buyer)
    assert buyer.get(reverse("verification:proof-file", args=[proof.pk])).status_code == 410
    # Scoping still comes first: another GOM gets the same 404 as for a missing proof.
    other = Client()
    other.force_login(personas.other_gom)
    assert other.get(reverse("verification:proof-file", args=[proof.pk])).status_code == 404


@pytest.mark.django_db
def test_review_page_shows_the_notice_instead_of_the_image(
    personas: Personas, proof_root: Path, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    proof = _approved(personas)
    client = Client()
    client.force_login(personas.owner)
    url = reverse("admin:verification_proofreview_change", args=[proof.pk])
    kept = client.get(url)
    assert kept.status_code == 200
    assert 'id="proof-image"' in kept.content.decode()
    with time_machine.travel(DECIDED + timedelta(days=31), tick=False):
        purge_expired_proof_files()
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="proof-image"' not in html
    assert reverse("verification:proof-file", args=[proof.pk]) not in html
    assert (
        '<p class="proof-purged" id="proof-purged">File deleted after 30 days (retention).</p>'
        in html
    )
    detail = client.get(reverse("admin:verification_paymentproof_change", args=[proof.pk]))
    assert detail.status_code == 200
    assert "File deleted after 30 days (retention)." in detail.content.decode()


@pytest.mark.django_db
def test_the_cached_thumbnail_goes_with_the_file(personas: Personas, proof_root: Path) -> None:
    from django.core.cache import cache

    from verification.services import proof_thumbnail_cache_key

    proof = _approved(personas)
    client = Client()
    client.force_login(personas.owner)
    assert client.get(reverse("verification:proof-thumbnail", args=[proof.pk])).status_code == 200
    key = proof_thumbnail_cache_key(proof.pk, proof.sha256)
    assert cache.get(key) is not None
    with time_machine.travel(DECIDED + timedelta(days=181), tick=False):
        purge_expired_proof_files()
    assert cache.get(key) is None
