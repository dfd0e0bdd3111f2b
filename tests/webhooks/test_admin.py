"""A GOM keeps their own webhook endpoints in the admin and sees only their own deliveries."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import GOM_GROUP
from audit.models import AuditEvent
from payments.services import submission_transition
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/webhooks/endpoint/add/"


def _gom(name: str) -> object:
    gom = StaffFactory(full_name=name)
    gom.groups.add(Group.objects.get(name=GOM_GROUP))
    return gom


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_gom_adds_an_endpoint_of_their_own_with_a_secret(settings: object) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    gom = _gom("Bea Santos")
    response = _client(gom).post(
        ADD_URL,
        {
            "url": "http://127.0.0.1:9/hooks",
            "description": "Shop sync",
            "event_types": ["submission.verified", "refund.paid"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.owner == gom
    assert endpoint.url == "http://127.0.0.1:9/hooks"
    assert sorted(endpoint.event_types) == ["refund.paid", "submission.verified"]
    assert len(endpoint.secrets) == 1
    assert endpoint.secrets[0].startswith("whsec_")
    assert AuditEvent.objects.filter(action="webhook.endpoint_created").count() == 1


def test_a_private_address_is_refused_with_a_message_and_nothing_written() -> None:
    gom = _gom("Bea Santos")
    response = _client(gom).post(
        ADD_URL,
        {"url": "http://10.0.0.5/hooks", "event_types": ["submission.verified"]},
    )
    assert response.status_code == 200
    assert "private" in response.content.decode().lower()
    assert Endpoint.objects.count() == 0
    assert AuditEvent.objects.filter(action="webhook.endpoint_created").count() == 0


def test_a_gom_sees_and_edits_only_their_own_endpoints_and_deliveries(settings: object) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    owner, other = _gom("Bea Santos"), _gom("Carlo Reyes")
    mine = webhook_endpoint_create(
        actor=owner, owner=owner, url="http://127.0.0.1:9/a", event_types=["submission.verified"]
    )
    theirs = webhook_endpoint_create(
        actor=other, owner=other, url="http://127.0.0.1:9/b", event_types=["submission.verified"]
    )
    for gom in (owner, other):
        submission = SubmissionFactory(
            group_order=GroupOrderFactory(owner=gom), status="proof_submitted"
        )
        submission_transition(actor=gom, submission=submission, target="verified")
    assert Delivery.objects.count() == 2
    client = _client(owner)

    listing = client.get("/admin/webhooks/endpoint/")
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert list(listing.context["cl"].result_list) == [mine]
    deliveries = client.get("/admin/webhooks/delivery/")
    assert deliveries.status_code == 200
    assert [d.endpoint_id for d in deliveries.context["cl"].result_list] == [mine.pk]

    # Another GOM's endpoint is not there for them: a 404, and nothing changes.
    response = client.post(
        f"/admin/webhooks/endpoint/{theirs.pk}/change/",
        {"url": "http://127.0.0.1:9/stolen", "event_types": ["refund.paid"], "is_active": "on"},
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.url == "http://127.0.0.1:9/b"
    assert theirs.event_types == ["submission.verified"]
    # No delete: deliveries point at an endpoint; it is deactivated instead.
    assert client.get(f"/admin/webhooks/endpoint/{mine.pk}/delete/").status_code == 403
    assert Endpoint.objects.count() == 2
