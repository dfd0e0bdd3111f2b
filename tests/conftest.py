"""Shared fixtures: the personas every permission test uses, and suite-wide guards."""

import os
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from accounts.roles import FINANCE_GROUP, GOM_GROUP
from payments.services import grouporder_grant_access
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> None:
    # The suite is about PostgreSQL behaviour (locks, constraints); never pass on SQLite silently.
    if os.environ.get("GOMFLOW_ALLOW_SQLITE") == "1":
        return
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        assert connection.vendor == "postgresql", (
            "Run the tests through `make test` (PostgreSQL and Redis); "
            f"DATABASE_URL points at {connection.vendor}."
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: pytest.FixtureRequest) -> None:
    # PBKDF2 at production strength costs ~0.3 s a user; the suite creates thousands.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # Rate limits, seen webhook ids and cached pages must not leak from one test into the next.
    from django.core.cache import caches

    from core import throttling

    for each in caches.all():
        each.clear()
    throttling.forget_clear_clients()


@pytest.fixture(autouse=True)
def _eager_celery(settings: pytest.FixtureRequest) -> None:
    # Tests run tasks in-process unless they start a real worker themselves.
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@dataclass
class Personas:
    owner: object
    assistant: object
    other_gom: object
    buyer: object
    finance: object
    order: object
    other_order: object
    submission: object
    other_submission: object


@pytest.fixture
def personas(db: None) -> Personas:
    """An owning GOM, an assistant granted view on one order, another GOM, a buyer, finance."""
    gom_group = Group.objects.get(name=GOM_GROUP)
    finance_group = Group.objects.get(name=FINANCE_GROUP)
    owner = StaffFactory(email="owner@example.test")
    other_gom = StaffFactory(email="other-gom@example.test")
    assistant = StaffFactory(email="assistant@example.test")
    for user in (owner, other_gom, assistant):
        user.groups.add(gom_group)
    finance = StaffFactory(email="finance@example.test")
    finance.groups.add(finance_group)
    buyer = UserFactory(email="buyer@example.test")
    order = GroupOrderFactory(owner=owner, title="Owner's order")
    other_order = GroupOrderFactory(owner=other_gom, title="Other GOM's order")
    grouporder_grant_access(actor=owner, group_order=order, assistant=assistant, level="view")
    submission = SubmissionFactory(group_order=order, buyer=buyer)
    other_submission = SubmissionFactory(group_order=other_order, buyer=buyer)
    return Personas(
        owner=owner,
        assistant=assistant,
        other_gom=other_gom,
        buyer=buyer,
        finance=finance,
        order=order,
        other_order=other_order,
        submission=submission,
        other_submission=other_submission,
    )
