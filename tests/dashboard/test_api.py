"""The dashboard's API: bulk decisions, stats, the live queue stream, method templates."""

import json
import threading
import time

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments.models import Payment
from tests.dashboard.helpers import queued, review_of
from verification import queue_events
from verification.decisions import submission_approve, submission_reject
from verification.models import ReviewState

pytestmark = pytest.mark.django_db
BULK = reverse("verification:api-bulk")
STATS = reverse("verification:api-stats")
STREAM = reverse("verification:api-queue-stream")
TEMPLATES = reverse("verification:api-method-templates")


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_bulk_api_returns_one_result_per_item(personas, verifier) -> None:
    rows = [queued(group_order=personas.order) for _ in range(2)]
    flagged = queued(group_order=personas.order, flags=[{"code": "duplicate_file"}])
    ids = [rows[0].pk, rows[1].pk, flagged.pk, personas.other_submission.pk]
    response = _api(verifier).post(
        BULK, {"action": "approve", "submission_ids": ids}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert [item["outcome"] for item in body["results"]] == [
        "approved",
        "approved",
        "needs_single_review",
        "not_found",
    ]
    assert body["summary"] == {"approved": 2, "needs_single_review": 1, "not_found": 1}
    assert body["results"][0]["decided_by"] == "Vera Verifier"
    assert Payment.objects.count() == 2
    again = _api(personas.owner).post(
        BULK, {"action": "reject", "submission_ids": ids[:1], "reason": "duplicate"}, format="json"
    )
    conflict = again.json()["results"][0]
    assert conflict["outcome"] == "conflict"
    assert conflict["decided_by"] == "Vera Verifier"
    assert conflict["decided_at"] == body["results"][0]["decided_at"]


def test_bulk_api_with_a_token_and_refusals(personas) -> None:
    submission = queued(group_order=personas.order)
    token = Token.objects.create(user=personas.assistant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    refused = client.post(
        BULK, {"action": "approve", "submission_ids": [submission.pk]}, format="json"
    )
    assert refused.status_code == 200
    assert refused.json()["results"][0]["outcome"] == "not_permitted"
    owner = _api(personas.owner)
    no_reason = owner.post(
        BULK, {"action": "reject", "submission_ids": [submission.pk]}, format="json"
    )
    assert no_reason.status_code == 400
    assert "Give a reason" in no_reason.json()["error"]["message"]
    bad = owner.post(BULK, {"action": "delete", "submission_ids": [submission.pk]}, format="json")
    assert bad.status_code == 400
    assert "action" in bad.json()["error"]["fields"]
    assert APIClient().post(BULK, {}, format="json").status_code in (401, 403)
    assert review_of(submission).state == ReviewState.AWAITING


def test_stats_api_returns_the_numbers(personas) -> None:
    approved = queued(group_order=personas.order, amount_read_minor=125_000)
    rejected = queued(group_order=personas.order)
    queued(group_order=personas.order)
    submission_approve(actor=personas.owner, submission_id=approved.pk)
    submission_reject(actor=personas.owner, submission_id=rejected.pk, reason_code="unreadable")
    body = _api(personas.owner).get(STATS, {"period": "day"}).json()
    assert body["period"] == "day"
    assert body["awaiting"] == 1
    assert body["decided"] == 2
    assert body["approved"] == 1
    assert body["rejected"] == 1
    assert body["rejection_rate"] == 0.5
    assert body["rejection_reasons"] == {"unreadable": 1}
    assert body["verified_amounts"]["today"] == {"PHP": 125_000}
    assert body["verified_amounts"]["month"] == {"PHP": 125_000}
    assert body["median_seconds_to_decision"] is not None
    assert body["per_method"] == [
        {"method_type": "gcash", "currency": "PHP", "decided": 2, "approved_minor": 125_000}
    ]
    assert body["submissions_by_status"]["verified"] == 1
    assert body["submissions_by_status"]["rejected"] == 1
    # The other GOM sees none of it.
    other = _api(personas.other_gom).get(STATS, {"period": "month"}).json()
    assert (other["decided"], other["awaiting"], other["verified_amounts"]["month"]) == (0, 0, {})
    assert _api(personas.owner).get(STATS, {"period": "year"}).status_code == 400


def test_method_templates_per_country() -> None:
    from tests.factories import UserFactory

    client = _api(UserFactory())
    ph = client.get(TEMPLATES, {"country": "PH"}).json()
    my = client.get(TEMPLATES, {"country": "MY"}).json()
    assert {t["code"] for t in ph["templates"]} >= {"ph-gcash"}
    assert all(t["code"].startswith("ph-") for t in ph["templates"])
    assert all(t["code"].startswith("my-") for t in my["templates"])
    gcash = next(t for t in ph["templates"] if t["code"] == "ph-gcash")
    assert [f["name"] for f in gcash["fields"]] == ["account_name", "account_number"]
    assert client.get(TEMPLATES, {"country": "SG"}).status_code == 400


def _read_event(stream) -> dict:  # type: ignore[no-untyped-def]
    for chunk in stream:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith("event: queue"):
            return json.loads(text.split("data: ", 1)[1])
    raise AssertionError("the stream ended")


@pytest.mark.parametrize("with_redis", [False, True])
def test_queue_stream_pushes_the_new_count_within_a_second(
    personas, settings, with_redis: bool
) -> None:
    if not with_redis:
        settings.REDIS_URL = ""
    assert queue_events.is_enabled() is with_redis
    settings.VERIFICATION_STREAM_POLL_SECONDS = 0.1
    settings.VERIFICATION_STREAM_MAX_SECONDS = 10
    queued(group_order=personas.order)
    queued(group_order=personas.other_order)
    response = _api(personas.owner).get(STREAM, HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    stream = iter(response.streaming_content)
    first = _read_event(stream)
    assert first == {"total": 1, "group_orders": {str(personas.order.pk): 1}}
    # A change made from another thread (another request) while the stream waits.
    submission = queued(group_order=personas.order, store_file=False)
    timer = threading.Timer(0.2, queue_events.publish)
    timer.start()
    started = time.monotonic()
    second = _read_event(stream)
    timer.join()
    assert second == {"total": 2, "group_orders": {str(personas.order.pk): 2}}
    assert time.monotonic() - started < 1.0
    assert submission.pk
    response.close()


def test_queue_stream_is_for_staff_only(personas) -> None:
    assert _api(personas.buyer).get(STREAM).status_code == 404
    assert APIClient().get(STREAM).status_code in (401, 403)


def test_schema_lists_the_dashboard_endpoints(personas) -> None:
    schema = _api(personas.owner).get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/verifications/bulk",
        "/api/verifications/stats",
        "/api/verifications/queue/stream",
        "/api/payment-methods/templates",
    ):
        assert path in schema["paths"]
