"""The queue's scope, read in one hand-written statement, answers exactly what the ORM and
guardian answer (grouporder_list_for_user at VIEW and VERIFY, the finance permission)."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import FINANCE_GROUP
from payments.selectors import FINANCE_PERMISSION, Access, grouporder_list_for_user
from payments.services import grouporder_grant_access
from tests.conftest import Personas
from tests.factories import GroupOrderFactory, StaffFactory, UserFactory
from verification.selectors import review_queue_scope


def _expected(user: Any) -> tuple[bool, list[tuple[int, str]], set[int], dict[int, int]]:
    everything = user.is_active and (user.is_superuser or user.has_perm(FINANCE_PERMISSION))
    orders = list(
        grouporder_list_for_user(user, access=Access.VIEW)
        .order_by("title", "pk")
        .values_list("pk", "title")
    )
    view_ids = {pk for pk, _title in orders}
    verify_ids = set(
        grouporder_list_for_user(user, access=Access.VERIFY).values_list("pk", flat=True)
    )
    owners = dict(grouporder_list_for_user(user, access=Access.VIEW).values_list("pk", "owner_id"))
    return everything, orders, verify_ids & view_ids, owners


@pytest.fixture
def world(personas: Personas) -> dict[str, Any]:
    """Every way to reach a group order: owning, a user grant (view, verify), a group's grant,
    finance by group and by a direct permission, superuser, and the ways to reach none."""
    owner = personas.owner
    second = GroupOrderFactory(owner=owner, title="A second order")
    third = GroupOrderFactory(owner=personas.other_gom, title="Third")
    verifier = StaffFactory(email="verifier@example.test")
    grouporder_grant_access(actor=owner, group_order=second, assistant=verifier, level="verify")
    grouporder_grant_access(
        actor=owner, group_order=personas.order, assistant=verifier, level="view"
    )
    # A grant to a group (guardian's group object permissions) reaches its members.
    team = Group.objects.create(name="Team of the other GOM")
    from guardian.shortcuts import assign_perm

    assign_perm("payments.verify_grouporder", team, third)
    member = StaffFactory(email="member@example.test")
    member.groups.add(team)
    direct_finance = StaffFactory(email="direct-finance@example.test")
    app, codename = FINANCE_PERMISSION.split(".")
    from django.contrib.auth.models import Permission

    direct_finance.user_permissions.add(
        Permission.objects.get(content_type__app_label=app, codename=codename)
    )
    finance_not_staff = UserFactory(email="finance-not-staff@example.test")
    finance_not_staff.groups.add(Group.objects.get(name=FINANCE_GROUP))
    superuser = StaffFactory(email="root@example.test", is_superuser=True)
    inactive = StaffFactory(email="gone@example.test", is_active=False)
    GroupOrderFactory(owner=inactive, title="Inactive's order")
    not_staff_owner = UserFactory(email="not-staff@example.test")
    GroupOrderFactory(owner=not_staff_owner, title="Not staff")
    return {
        "owner": owner,
        "assistant": personas.assistant,
        "other_gom": personas.other_gom,
        "finance": personas.finance,
        "buyer": personas.buyer,
        "verifier": verifier,
        "member": member,
        "direct_finance": direct_finance,
        "finance_not_staff": finance_not_staff,
        "superuser": superuser,
        "inactive": inactive,
        "not_staff_owner": not_staff_owner,
    }


PERSONAS = [
    "owner",
    "assistant",
    "other_gom",
    "finance",
    "buyer",
    "verifier",
    "member",
    "direct_finance",
    "finance_not_staff",
    "superuser",
    "inactive",
    "not_staff_owner",
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_scope_equals_the_orm_answer(world: dict[str, Any], persona: str) -> None:
    user = type(world[persona]).objects.get(pk=world[persona].pk)  # no permission cache

    with CaptureQueriesContext(connection) as queries:
        scope = review_queue_scope(user)

    assert (scope.everything, scope.orders, set(scope.verify_ids), scope.owners) == _expected(user)
    assert len(queries.captured_queries) <= 1


def test_scope_figures_for_the_people_of_the_story(world: dict[str, Any]) -> None:
    # The equality above could hold for wrong reasons (both empty); pin what each one sees:
    # (everything, titles of the orders shown, how many of them they may decide).
    seen = {}
    for name in PERSONAS:
        scope = review_queue_scope(world[name])
        titles = [title for _pk, title in scope.orders]
        seen[name] = (scope.everything, titles, len(scope.verify_ids))
    every = [
        "A second order",
        "Inactive's order",
        "Not staff",
        "Other GOM's order",
        "Owner's order",
        "Third",
    ]

    assert seen == {
        "owner": (False, ["A second order", "Owner's order"], 2),
        "assistant": (False, ["Owner's order"], 0),
        "other_gom": (False, ["Other GOM's order", "Third"], 2),
        "finance": (True, every, 0),
        "buyer": (False, [], 0),
        "verifier": (False, ["A second order", "Owner's order"], 1),
        "member": (False, ["Third"], 1),
        "direct_finance": (True, every, 0),
        "finance_not_staff": (True, every, 0),
        "superuser": (True, every, 6),
        "inactive": (False, [], 0),
        "not_staff_owner": (False, [], 0),
    }
