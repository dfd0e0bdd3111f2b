"""core.lookups.AnyOf: one array parameter, so the statement's text does not vary."""

from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.lookups import AnyOf
from tests.factories import UserFactory


def test_any_of_selects_the_rows_with_one_of_the_values(db: None) -> None:
    users = UserFactory.create_batch(3)
    wanted = [users[0].pk, users[2].pk]

    picked = User.objects.filter(AnyOf(F("id"), wanted)).order_by("pk")

    assert list(picked.values_list("pk", flat=True)) == wanted
    assert not User.objects.filter(AnyOf(F("id"), [])).exists()


def test_any_of_has_one_text_for_any_number_of_values(db: None) -> None:
    def compiled(values: list[int]) -> tuple[str, tuple]:
        return User.objects.filter(AnyOf(F("id"), values)).values("pk").query.sql_with_params()

    assert compiled([1])[0] == compiled([1, 2, 3, 40000])[0]
    assert compiled([1, 2, 3, 40000])[1] == ([1, 2, 3, 40000],)
    with CaptureQueriesContext(connection) as queries:
        list(User.objects.filter(AnyOf(F("id"), [1, 2])))
    # Typed as the column (bigint): small numbers alone would travel as smallint[].
    assert "= ANY('{1,2}'::int2[]::bigint[])" in queries.captured_queries[0]["sql"]
