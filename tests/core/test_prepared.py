"""core.prepared: statements PostgreSQL plans once per connection."""

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.prepared import PreparedStatement


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def _run(statement: PreparedStatement, *params: object) -> tuple:
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        return cursor.fetchone()


def test_a_statement_is_prepared_once_and_executed_by_name(db: None) -> None:
    statement = PreparedStatement("test_prepared_sum", "SELECT %s + %s, %s", ["int", "int", "text"])

    with CaptureQueriesContext(connection) as queries:
        assert _run(statement, 2, 3, "it's") == (5, "it's")
        assert _run(statement, 4, 5, "x") == (9, "x")

    # The PREPARE is connection set-up, as Django's own: only the two EXECUTEs are counted.
    assert [query["sql"] for query in queries.captured_queries] == [
        "EXECUTE test_prepared_sum(2, 3, 'it''s')",
        "EXECUTE test_prepared_sum(4, 5, 'x')",
    ]
    assert "test_prepared_sum" in _prepared_names()


def test_a_statement_survives_a_rollback(db: None) -> None:
    statement = PreparedStatement("test_prepared_rollback", "SELECT %s", ["int"])
    try:
        with transaction.atomic():
            assert _run(statement, 1) == (1,)
            raise RuntimeError
    except RuntimeError:
        pass
    assert _run(statement, 2) == (2,)


@pytest.mark.django_db(transaction=True)
def test_a_dropped_statement_is_prepared_again_outside_a_transaction() -> None:
    statement = PreparedStatement("test_prepared_dropped", "SELECT %s * 2", ["int"])
    assert _run(statement, 2) == (4,)
    # As a pooler's DISCARD ALL would, but only this one: the suite's connection lives on.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE test_prepared_dropped")

    assert _run(statement, 3) == (6,)

    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE test_prepared_dropped")
    # Inside a transaction the failed EXECUTE has aborted it: the error is the caller's.
    with pytest.raises(ProgrammingError), transaction.atomic():
        _run(statement, 4)
    assert _run(statement, 5) == (10,)


def test_a_new_connection_prepares_the_statement_again(db: None) -> None:
    statement = PreparedStatement("test_prepared_reconnect", "SELECT %s", ["text"])
    assert _run(statement, "a") == ("a",)
    # pytest-django's transaction is on this connection; a second one is a new session.
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            statement.execute(cursor, ["b"])
            assert cursor.fetchone() == ("b",)
    finally:
        other.close()


def test_parameters_must_match_their_types() -> None:
    with pytest.raises(ValueError, match="one %s per parameter"):
        PreparedStatement("test_prepared_bad", "SELECT %s, %s", ["int"])
    with pytest.raises(ValueError, match="one %s per parameter"):
        PreparedStatement("test_prepared_bad", "SELECT %s LIKE 'a%'", ["text"])
    with pytest.raises(ValueError, match="plain SQL name"):
        PreparedStatement("drop table; --", "SELECT 1", [])
