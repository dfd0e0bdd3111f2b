"""Audit events cannot be changed or deleted on PostgreSQL, not even with raw SQL."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import StaffFactory, SubmissionFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_auditevent SET action = 'forged'", "DELETE FROM audit_auditevent"],
)
def test_update_and_delete_are_refused_by_the_database(statement: str) -> None:
    event = audit_record(
        actor=StaffFactory(), action="submission.created", target=SubmissionFactory()
    )

    with pytest.raises(ProgrammingError, match="audit events are append-only"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    stored = AuditEvent.objects.get()
    assert (stored.pk, stored.action) == (event.pk, "submission.created")


@pytest.mark.django_db
def test_the_orm_cannot_delete_either() -> None:
    audit_record(actor=None, action="job.ran")
    with pytest.raises(ProgrammingError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_audit_rows_name_a_submission_by_code_not_by_the_buyers_name() -> None:
    submission = SubmissionFactory(buyer_name="Maria Clara")
    event = audit_record(actor=None, action="x.y", target=submission)
    assert event.object_repr == f"Submission {submission.code}"
    assert event.actor is None
