"""Every legal and every illegal submission transition, through the one service."""

import itertools

import pytest

from audit.models import AuditEvent
from payments.exceptions import ConcurrentUpdate, InvalidTransition
from payments.models import SUBMISSION_TRANSITIONS, Submission, SubmissionStatus
from payments.services import submission_transition
from tests.factories import StaffFactory, SubmissionFactory

ALL_PAIRS = list(itertools.product(SubmissionStatus.values, repeat=2))
LEGAL = [(a, b) for a, b in ALL_PAIRS if b in SUBMISSION_TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in SUBMISSION_TRANSITIONS[a]]


def test_the_table_covers_every_state_and_names_only_states() -> None:
    assert set(SUBMISSION_TRANSITIONS) == set(SubmissionStatus.values)
    for targets in SUBMISSION_TRANSITIONS.values():
        assert targets <= set(SubmissionStatus.values)
    # 16 of the foundation + 3 the money core's payment_void needs (see the table's comments).
    assert len(LEGAL) == 19
    assert len(ILLEGAL) == 81 - 19


def test_product_edges_are_all_legal() -> None:
    s = SubmissionStatus
    product_edges = {
        (s.PENDING_PAYMENT, s.PROOF_SUBMITTED),
        (s.PROOF_SUBMITTED, s.VERIFIED),
        (s.PROOF_SUBMITTED, s.PARTIALLY_PAID),
        (s.PROOF_SUBMITTED, s.REJECTED),
        (s.REJECTED, s.PROOF_SUBMITTED),
        (s.PENDING_PAYMENT, s.EXPIRED),
        (s.PENDING_PAYMENT, s.CANCELLED),
        (s.VERIFIED, s.PARTIALLY_REFUNDED),
        (s.VERIFIED, s.REFUNDED),
        (s.PARTIALLY_REFUNDED, s.REFUNDED),
    }
    assert product_edges <= set(LEGAL)


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_legal_transition_changes_state_bumps_version_and_audits(source: str, target: str) -> None:
    gom = StaffFactory()
    submission = SubmissionFactory(status=source)
    history_before = submission.history.count()

    result = submission_transition(actor=gom, submission=submission, target=target, notes="ok")

    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.status, stored.version) == (target, 2)
    assert result.status == target
    events = list(AuditEvent.objects.filter(object_id=str(submission.pk)))
    assert len(events) == 1
    assert events[0].action == "submission.state_changed"
    assert events[0].actor == gom
    assert events[0].before == {"status": source, "version": 1}
    assert events[0].after == {"status": target, "version": 2, "notes": "ok"}
    assert submission.history.count() == history_before + 1
    latest = submission.history.first()
    assert (latest.status, latest.history_user, latest.history_type) == (target, None, "~")


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_illegal_transition_raises_and_changes_nothing(source: str, target: str) -> None:
    submission = SubmissionFactory(status=source)
    history_before = submission.history.count()

    with pytest.raises(InvalidTransition) as raised:
        submission_transition(actor=StaffFactory(), submission=submission, target=target)

    assert str(raised.value) == f"A submission cannot go from {source} to {target}."
    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.status, stored.version, stored.verified_at) == (source, 1, None)
    assert AuditEvent.objects.filter(action="submission.state_changed").count() == 0
    assert submission.history.count() == history_before


@pytest.mark.django_db
def test_stale_version_is_refused_and_changes_nothing() -> None:
    submission = SubmissionFactory(status=SubmissionStatus.PROOF_SUBMITTED)
    submission_transition(actor=StaffFactory(), submission=submission, target="rejected")

    with pytest.raises(ConcurrentUpdate):
        submission_transition(
            actor=StaffFactory(),
            submission=submission,
            target="proof_submitted",
            expected_version=1,
        )

    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.status, stored.version) == ("rejected", 2)
    assert AuditEvent.objects.filter(action="submission.state_changed").count() == 1


@pytest.mark.django_db
def test_verifying_records_who_and_when() -> None:
    gom = StaffFactory()
    submission = SubmissionFactory(status=SubmissionStatus.PROOF_SUBMITTED)
    submission_transition(actor=gom, submission=submission, target="verified")
    stored = Submission.objects.get(pk=submission.pk)
    assert stored.verified_by == gom
    assert stored.verified_at is not None
