"""The persona matrix over the admin pages of every payments model: status and visible rows."""

import pytest
from django.test import Client
from django.urls import reverse

from payments.models import GroupOrder, PaymentMethod, Submission
from tests.factories import PaymentMethodFactory

PERSONAS = ["owner", "assistant", "other_gom", "buyer", "finance", "anonymous"]


def _client(personas: object, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(getattr(personas, persona))
    return client


@pytest.fixture
def world(personas: object) -> object:
    personas.method = PaymentMethodFactory(owner=personas.owner, display_name="Owner GCash")
    personas.other_method = PaymentMethodFactory(
        owner=personas.other_gom, display_name="Other GCash"
    )
    return personas


# Which of the two objects of each model a persona sees in the changelist: "mine" is the owner's
# (the assistant was granted its group order), "theirs" is the other GOM's.
VISIBLE = {
    "grouporder": {
        "owner": {"mine"},
        "assistant": {"mine"},
        "other_gom": {"theirs"},
        "finance": {"mine", "theirs"},
    },
    "submission": {
        "owner": {"mine"},
        "assistant": {"mine"},
        "other_gom": {"theirs"},
        "finance": {"mine", "theirs"},
    },
    "paymentmethod": {
        "owner": {"mine"},
        "assistant": set(),
        "other_gom": {"theirs"},
        "finance": {"mine", "theirs"},
    },
}


def _objects(world: object, model: str) -> dict[str, object]:
    return {
        "grouporder": {"mine": world.order, "theirs": world.other_order},
        "submission": {"mine": world.submission, "theirs": world.other_submission},
        "paymentmethod": {"mine": world.method, "theirs": world.other_method},
    }[model]


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["grouporder", "submission", "paymentmethod"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_changelist_shows_exactly_the_rows_in_scope(
    world: object, model: str, persona: str
) -> None:
    response = _client(world, persona).get(reverse(f"admin:payments_{model}_changelist"))

    if persona in ("buyer", "anonymous"):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        return
    assert response.status_code == 200
    objects = _objects(world, model)
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert shown == {objects[key].pk for key in VISIBLE[model][persona]}


# Expected status of the change page of the owner's object, and whether it can be saved.
CHANGE_PAGE = {
    "grouporder": {
        "owner": (200, True),
        "assistant": (200, False),
        "other_gom": (404, False),
        "finance": (200, False),
    },
    "submission": {
        "owner": (200, False),
        "assistant": (200, False),
        "other_gom": (404, False),
        "finance": (200, False),
    },
    "paymentmethod": {
        "owner": (200, True),
        "assistant": (404, False),
        "other_gom": (404, False),
        "finance": (200, False),
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["grouporder", "submission", "paymentmethod"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_change_and_history_pages_of_the_owners_object(
    world: object, model: str, persona: str
) -> None:
    target = _objects(world, model)["mine"]
    client = _client(world, persona)
    change = client.get(reverse(f"admin:payments_{model}_change", args=[target.pk]))
    history = client.get(reverse(f"admin:payments_{model}_history", args=[target.pk]))

    if persona in ("buyer", "anonymous"):
        assert (change.status_code, history.status_code) == (302, 302)
        return
    status, can_save = CHANGE_PAGE[model][persona]
    assert change.status_code == status
    assert history.status_code == status
    if status == 200:
        assert ('name="_save"' in change.content.decode()) is can_save


@pytest.mark.django_db
def test_a_missing_object_and_someone_elses_look_the_same(world: object) -> None:
    client = _client(world, "other_gom")
    foreign = client.get(reverse("admin:payments_submission_change", args=[world.submission.pk]))
    missing = client.get(reverse("admin:payments_submission_change", args=[999_999]))
    assert foreign.status_code == missing.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("owner", 200), ("assistant", 404), ("other_gom", 404), ("finance", 404), ("buyer", 302)],
)
def test_only_the_owner_manages_assistants(world: object, persona: str, status: int) -> None:
    url = reverse("admin:payments_grouporder_access", args=[world.order.pk])
    assert _client(world, persona).get(url).status_code == status


@pytest.mark.django_db
def test_owner_grants_verify_rights_from_the_group_order_page(world: object) -> None:
    client = _client(world, "owner")
    url = reverse("admin:payments_grouporder_access", args=[world.order.pk])

    response = client.post(url, {"email": "ASSISTANT@example.test", "level": "verify"})

    assert response.status_code == 302
    assistant = type(world.assistant).objects.get(pk=world.assistant.pk)
    assert assistant.has_perm("payments.verify_grouporder", world.order)
    assert not assistant.has_perm("payments.verify_grouporder", world.other_order)


@pytest.mark.django_db
def test_granting_to_a_buyer_is_refused_and_grants_nothing(world: object) -> None:
    client = _client(world, "owner")
    url = reverse("admin:payments_grouporder_access", args=[world.order.pk])

    response = client.post(url, {"email": world.buyer.email, "level": "verify"})

    assert response.status_code == 200
    assert "This account is not staff" in response.content.decode()
    buyer = type(world.buyer).objects.get(pk=world.buyer.pk)
    assert not buyer.has_perm("payments.view_grouporder", world.order)


@pytest.mark.django_db
def test_gom_creates_an_order_that_is_theirs_with_the_countrys_currency(world: object) -> None:
    client = _client(world, "other_gom")
    response = client.post(
        reverse("admin:payments_grouporder_add"),
        {
            "title": "New GO",
            "description": "",
            "status": "open",
            "country": "MY",
            "accepted_methods": [],
            "order_deadline_0": "2030-01-01",
            "order_deadline_1": "10:00:00",
            "payment_deadline_0": "2030-01-05",
            "payment_deadline_1": "10:00:00",
            "payment_timing": "full",
            "installment_interval_days": "30",
            "refunds_accepted_until_0": "",
            "refunds_accepted_until_1": "",
            "refundable_percent": "100",
            "refund_reasons": '["item_unavailable", "order_cancelled"]',
            "deposit_percent": "",
            "installment_count": "",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-0-name": "Album",
            "items-0-unit_price_minor": "7990",
            "items-0-is_available": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = GroupOrder.objects.get(title="New GO")
    assert (order.owner, order.country, order.currency) == (world.other_gom, "MY", "MYR")
    assert list(order.items.values_list("name", "unit_price_minor")) == [("Album", 7990)]


@pytest.mark.django_db
def test_a_gom_cannot_accept_another_goms_method(world: object) -> None:
    client = _client(world, "owner")
    before = list(world.order.accepted_methods.all())
    url = reverse("admin:payments_grouporder_change", args=[world.order.pk])
    page = client.get(url)
    choices = {pk for pk, _ in page.context["adminform"].form.fields["accepted_methods"].choices}
    assert world.method.pk in {getattr(c, "value", c) for c in choices}
    assert world.other_method.pk not in {getattr(c, "value", c) for c in choices}
    assert list(world.order.accepted_methods.all()) == before


@pytest.mark.django_db
def test_invalid_account_number_is_refused_with_the_reason(world: object) -> None:
    client = _client(world, "owner")
    response = client.post(
        reverse("admin:payments_paymentmethod_add"),
        {
            "display_name": "My GCash",
            "template_code": "ph-gcash",
            "is_active": "on",
            "account_name": "SAMPLE GOM",
            "account_number": "12345",
            "extra_details": "{}",
            "instructions": "",
            "monthly_limit_minor": "",
        },
    )
    assert response.status_code == 200
    assert "Enter a Philippine mobile number" in response.content.decode()
    assert PaymentMethod.objects.filter(display_name="My GCash").count() == 0


@pytest.mark.django_db
def test_submissions_are_never_added_or_deleted_in_the_admin(world: object) -> None:
    client = _client(world, "owner")
    assert client.get(reverse("admin:payments_submission_add")).status_code == 403
    delete = reverse("admin:payments_submission_delete", args=[world.submission.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Submission.objects.filter(pk=world.submission.pk).exists()
