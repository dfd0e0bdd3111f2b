"""The doors an empty POST cannot test: requests with a body that would do something.

simple-history's past-version page saved the past version on any POST after checking only the
*view* right (an empty body is a complete "revert" where every field is read-only): a view-only
assistant or finance could put a verified submission back to "pending". The API's payment and
bulk-decision endpoints read the body before they look at the rows, so they get a valid body.
"""

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from core.admin_history import HistoryAdmin
from payments.models import Payment, Submission
from tests.access.conftest import PersonaClients
from tests.access.fingerprint import writes, written_tables
from tests.access.matrix import rolled_back
from tests.access.world import World


def _first_version(submission: Submission) -> int:
    return submission.history.order_by("history_id").first().history_id


def _past_version_url(world: World) -> str:
    # The paid submission: its first version is "pending_payment", its row is paid since.
    submission = world.paid_submission
    return reverse(
        "admin:payments_submission_simple_history",
        args=[submission.pk, _first_version(submission)],
    )


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("owner", 405),
        ("assistant", 405),
        ("finance", 405),
        ("superuser", 405),
        ("other_gom", 404),
        ("buyer", 302),
        ("anonymous", 302),
    ],
)
def test_no_one_reverts_a_submission_from_its_past_version_page(
    world: World, client_for: PersonaClients, persona: str, status: int
) -> None:
    submission = Submission.objects.get(pk=world.paid_submission.pk)
    before = writes()

    response = client_for(persona).post(_past_version_url(world))

    assert response.status_code == status
    assert written_tables(before, writes()) == []
    after = Submission.objects.get(pk=submission.pk)
    assert (after.status, after.version, after.paid_minor) == (
        "verified",
        submission.version,
        50_000,
    )


def test_without_the_guard_a_view_only_user_would_revert_it(world: World) -> None:
    # The control: simple-history's own view, called directly, saves the past version for
    # finance, who may only look. This is what HistoryAdmin refuses.
    model_admin = admin.site._registry[Submission]
    request = RequestFactory().post(_past_version_url(world))
    request.user = world.users["finance"]
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    submission = world.paid_submission
    with rolled_back():
        response = SimpleHistoryAdmin.history_form_view(
            model_admin, request, str(submission.pk), str(_first_version(submission))
        )
        reverted = Submission.objects.get(pk=submission.pk).status
    assert response.status_code == 302
    assert reverted == "pending_payment"
    assert Submission.objects.get(pk=submission.pk).status == "verified"


def test_past_version_page_shows_no_revert_button(world: World, client_for: PersonaClients) -> None:
    page = client_for("owner").get(_past_version_url(world)).content.decode()
    assert 'value="Revert"' not in page
    assert "View submission" in page


def test_every_admin_with_simple_history_pages_is_read_only_there() -> None:
    # A new ModelAdmin built on SimpleHistoryAdmin directly would bring the revert back.
    unguarded = sorted(
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, SimpleHistoryAdmin) and not isinstance(model_admin, HistoryAdmin)
    )
    assert unguarded == []


def _payment_body(world: World) -> dict[str, object]:
    return {
        "currency": "PHP",
        "amount_minor": 125_000,
        "method_type": "gcash",
        "reference": "CASH-1",
        "paid_at": datetime(2026, 11, 20, 3, 0, tzinfo=UTC).isoformat(),
        "allocations": [{"submission_id": world.submission.pk, "amount_minor": 125_000}],
    }


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("other_gom", 404),
        ("finance", 404),
        ("buyer", 404),
        ("other_buyer", 404),
        ("anonymous", 403),
    ],
)
def test_recording_a_payment_on_someone_elses_order_is_refused(
    world: World, client_for: PersonaClients, persona: str, status: int
) -> None:
    payments = Payment.objects.count()
    before = writes()

    response = client_for(persona).post(
        "/api/payments", _payment_body(world), content_type="application/json"
    )

    assert response.status_code == status
    assert written_tables(before, writes()) == []
    assert Payment.objects.count() == payments


def test_the_assistant_with_verify_rights_records_a_payment(
    world: World, client_for: PersonaClients
) -> None:
    # The control: the same body is a real payment for whoever may verify the order.
    response = client_for("assistant").post(
        "/api/payments", _payment_body(world), content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["amount_minor"] == 125_000


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [("other_gom", "not_found"), ("finance", "not_permitted"), ("buyer", "not_found")],
)
def test_bulk_approval_of_someone_elses_submission_changes_nothing(
    world: World, client_for: PersonaClients, persona: str, outcome: str
) -> None:
    before = writes()

    response = client_for(persona).post(
        "/api/verifications/bulk",
        {"action": "approve", "submission_ids": [world.submission.pk]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert [result["outcome"] for result in response.json()["results"]] == [outcome]
    assert written_tables(before, writes()) == []
    assert Submission.objects.get(pk=world.submission.pk).status == "proof_submitted"
