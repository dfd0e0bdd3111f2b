"""core.prepared: statements PostgreSQL plans once per connection."""

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core import prepared
from core.prepared import PreparedStatement, execute_by_text


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
    with pytest.raises(ValueError, match="no other %"):
        PreparedStatement("test_prepared_bad", "SELECT %s LIKE 'a%'", ["text"])
    with pytest.raises(ValueError, match="plain SQL name"):
        PreparedStatement("drop table; --", "SELECT 1", [])


def test_parameter_types_may_be_left_to_postgresql(db: None) -> None:
    statement = PreparedStatement(
        "test_prepared_inferred", "SELECT count(*) FROM accounts_user WHERE id = ANY(%s)", None
    )
    assert _run(statement, [1, 2]) == (0,)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT parameter_types::text FROM pg_prepared_statements WHERE name = %s",
            ["test_prepared_inferred"],
        )
        assert cursor.fetchone() == ("{bigint[]}",)


def test_our_statements_are_planned_once_not_on_every_execute(db: None) -> None:
    # config.settings: PostgreSQL is told not to re-plan prepared statements per EXECUTE.
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
    statement = PreparedStatement("test_prepared_generic", "SELECT %s::int + 1", None)
    for value in range(3):
        assert _run(statement, value) == (value + 1,)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s",
            ["test_prepared_generic"],
        )
        assert cursor.fetchone() == (3, 0)


def test_statements_are_prepared_by_text_up_to_a_limit(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "_by_text", {})
    monkeypatch.setattr(prepared, "BY_TEXT_LIMIT", 2)

    def run(sql: str, *params: object) -> tuple:
        with connection.cursor() as cursor:
            execute_by_text(cursor, "test_by_text", sql, params)
            return cursor.fetchone()

    with CaptureQueriesContext(connection) as queries:
        assert run("SELECT %s::int * 2", 2) == (4,)
        assert run("SELECT %s::int * 2", 5) == (10,)
        assert run("SELECT %s::int * 3", 5) == (15,)
        assert run("SELECT %s::int * 4", 5) == (20,)  # past the limit: runs as it is
        assert run("SELECT %s::text LIKE 'a%%'", "ab") == (True,)  # a % of its own: as it is

    sent = [query["sql"] for query in queries.captured_queries]
    assert [sql.split("(")[0] for sql in sent[:3]] == [
        f"EXECUTE test_by_text_{prepared._by_text['SELECT %s::int * 2'].name[-16:]}",
    ] * 2 + [f"EXECUTE {prepared._by_text['SELECT %s::int * 3'].name}"]
    assert sent[3:] == ["SELECT 5::int * 4", "SELECT 'ab'::text LIKE 'a%'"]
    assert len([name for name in _prepared_names() if name.startswith("test_by_text_")]) == 2


def test_a_statement_without_parameters(db: None) -> None:
    statement = PreparedStatement("test_prepared_none", "SELECT 7", [])
    with CaptureQueriesContext(connection) as queries:
        assert _run(statement) == (7,)
    assert [query["sql"] for query in queries.captured_queries] == ["EXECUTE test_prepared_none"]
