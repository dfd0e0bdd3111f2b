"""User.objects.get(pk=…), which loads the signed-in user on every request, from one statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.factories import UserFactory


def _values(user: User) -> list[object]:
    return [getattr(user, field.attname) for field in User._meta.concrete_fields]


def test_get_by_pk_returns_what_the_orm_returns_in_one_query(db: None) -> None:
    user = UserFactory(full_name="Ana Cruz", phone="+63 917 000 0000")
    from_orm = User.objects.filter(pk=user.pk).get()

    with CaptureQueriesContext(connection) as queries:
        loaded = User.objects.get(pk=user.pk)

    assert _values(loaded) == _values(from_orm)
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert [query["sql"] for query in queries.captured_queries] == [
        f"EXECUTE accounts_user_get_by_pk({user.pk})"
    ]


def test_get_by_pk_of_nobody_raises_does_not_exist(db: None) -> None:
    with pytest.raises(User.DoesNotExist, match=r"^User matching query does not exist\.$"):
        User.objects.get(pk=2_000_000_000)


def test_other_lookups_are_the_orms(db: None) -> None:
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        assert User.objects.get(pk=str(user.pk)) == user
        assert User.objects.get(email=user.email) == user
        assert User.objects.filter(is_active=True).get(pk=user.pk) == user
    assert not any(query["sql"].startswith("EXECUTE") for query in queries.captured_queries)
