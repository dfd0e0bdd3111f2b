"""User.objects.get(pk=…), which loads the signed-in user on every request, from one statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User, user_row_already_read
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


def test_a_row_already_read_is_handed_out_once_without_a_query(db: None) -> None:
    user = UserFactory()
    other = UserFactory()
    row = User.objects.filter(pk=user.pk).get()

    with CaptureQueriesContext(connection) as queries, user_row_already_read(row):
        assert User.objects.get(pk=user.pk) is row
        assert User.objects.get(pk=other.pk) == other  # not the row read: a query
        assert User.objects.get(pk=user.pk) is not row  # handed out once: read again
    assert len(queries.captured_queries) == 2

    with CaptureQueriesContext(connection) as queries:
        assert User.objects.get(pk=user.pk) is not row  # outside the block
    assert len(queries.captured_queries) == 1


def test_from_row_builds_the_user_row_columns_select(db: None) -> None:
    user = UserFactory(full_name="Ana Cruz")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {User.objects.row_columns('u')} FROM accounts_user u WHERE u.id = %s",  # noqa: S608
            [user.pk],
        )
        built = User.objects.from_row(cursor.fetchone())
    assert _values(built) == _values(User.objects.filter(pk=user.pk).get())
    assert (built._state.adding, built._state.db) == (False, "default")
