"""The migration safety rule (docs/migrations.md): project migrations pass it, a bad one fails."""

import importlib.util
from pathlib import Path

import pytest
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ModelState

from core.migration_safety import (
    RULES,
    acknowledge,
    check_migration,
    check_project,
    data_migrations,
    is_large,
    local_app_labels,
    project_state_at_end,
    rerun_data_operations,
)
from payments.models import FeeRule

FIXTURES = Path(__file__).parent / "fixtures"


def _load_fixture(file_name: str, name: str = "Migration") -> migrations.Migration:
    spec = importlib.util.spec_from_file_location(
        f"safety_fixture_{file_name[:-3]}", FIXTURES / file_name
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)("0999_fixture", "payments")


def test_every_project_migration_passes_the_safety_rules() -> None:
    findings = check_project()
    assert findings == [], "\n".join(str(finding) for finding in findings)


def test_the_check_covers_every_app_of_the_repository() -> None:
    assert {
        "accounts",
        "audit",
        "payments",
        "verification",
        "wallet",
        "legacy",
    } <= local_app_labels()
    assert "auth" not in local_app_labels()
    assert "guardian" not in local_app_labels()


def test_bad_example_migration_is_refused_with_every_rule() -> None:
    findings = check_migration(_load_fixture("bad_migration.py"), project_state_at_end())

    assert [(finding.index, finding.rule) for finding in findings] == [
        (0, "add-non-null-column"),
        (1, "alter-column-type"),
        (2, "index-without-concurrently"),
        (3, "constraint-with-validation-scan"),
        (4, "set-not-null"),
        (5, "run-python-without-reverse"),
        (5, "data-and-schema-mixed"),
        (6, "run-sql-without-reverse"),
        (7, "alter-column-type"),
    ]
    assert findings[1].detail == (
        "AlterField payments.Submission.amount_due_minor: bigint → numeric(12, 2)"
    )
    assert str(findings[0]).startswith(
        "payments.0999_fixture operation 0: AddField payments.Submission.channel is NOT NULL "
        "[add-non-null-column] adds a NOT NULL column"
    )


def test_safe_variants_and_acknowledged_operations_pass() -> None:
    assert check_migration(_load_fixture("acknowledged_migration.py"), project_state_at_end()) == []


def test_an_acknowledgement_covers_only_the_rule_it_names() -> None:
    migration = migrations.Migration("0999_partial", "payments")
    migration.operations = [
        acknowledge(
            migrations.AddField(
                model_name="submission",
                name="channel",
                field=models.ForeignKey(
                    "payments.paymentmethod", on_delete=models.PROTECT, default=1
                ),
            ),
            rule="add-non-null-column",
            reason="backfilled by the previous release; every row has a method",
        )
    ]

    findings = check_migration(migration, project_state_at_end())

    assert [(finding.index, finding.rule) for finding in findings] == [
        (0, "index-without-concurrently")
    ]


@pytest.mark.parametrize(
    ("rule", "reason", "message"),
    [
        ("no-such-rule", "a perfectly good reason", "unknown migration safety rule 'no-such-rule'"),
        ("add-non-null-column", "   ok   ", "say why the operation is safe anyway"),
    ],
)
def test_acknowledge_refuses_unknown_rules_and_empty_reasons(
    rule: str, reason: str, message: str
) -> None:
    operation = migrations.RunSQL("SELECT 1")
    with pytest.raises(ValueError, match=message):
        acknowledge(operation, rule=rule, reason=reason)
    assert not hasattr(operation, "safety_acknowledged")


def test_tables_holding_money_or_state_are_large_without_being_listed() -> None:
    money = ModelState(
        "wallet",
        "Voucher",
        [("id", models.BigAutoField(primary_key=True)), ("value_minor", models.BigIntegerField())],
    )
    state = ModelState(
        "newapp",
        "Ticket",
        [("id", models.BigAutoField(primary_key=True)), ("status", models.CharField(max_length=8))],
    )
    listed_history = ModelState("audit", "HistoricalAuditEvent", [("id", models.BigIntegerField())])
    plain = ModelState(
        "newapp",
        "Tag",
        [("id", models.BigAutoField(primary_key=True)), ("name", models.CharField(max_length=8))],
    )

    assert [is_large(m) for m in (money, state, listed_history, plain)] == [True, True, True, False]
    assert set(RULES) == {
        "add-non-null-column",
        "alter-column-type",
        "set-not-null",
        "index-without-concurrently",
        "constraint-with-validation-scan",
        "run-python-without-reverse",
        "run-sql-without-reverse",
        "data-and-schema-mixed",
        "irreversible",
    }


def test_the_project_has_its_data_migrations_checked_for_idempotency() -> None:
    # The round-trip test runs each of these twice on PostgreSQL (check_data_migrations_idempotent);
    # a new RunPython anywhere in the project joins this list without editing any test. The
    # audit trigger is DDL run from RunPython: recognised as a schema change and not re-run.
    assert data_migrations() == [
        ("audit", "0002_append_only_trigger"),
        ("payments", "0002_default_fee_rules"),
        ("verification", "0003_proofreview_search_indexes"),
        ("verification", "0004_proofreview_backfill"),
    ]


def _php_fees() -> list[tuple[str, int]]:
    return list(
        FeeRule.objects.filter(currency="PHP")
        .order_by("method_type")
        .values_list("method_type", "fixed_minor")
    )


@pytest.mark.django_db
def test_a_data_migration_that_changes_data_when_run_again_is_refused() -> None:
    state = project_state_at_end()
    bad = _load_fixture("non_idempotent_data_migration.py")
    assert _php_fees() == [("cash", 0), ("gcash", 1_000), ("maya", 1_500)]

    assert rerun_data_operations(bad, state, connection) == ["payments_feerule"]  # applied
    assert rerun_data_operations(bad, state, connection) == ["payments_feerule"]  # retried

    # A retried deploy would have charged PHP 10 twice.
    assert _php_fees() == [("cash", 2_000), ("gcash", 3_000), ("maya", 3_500)]


@pytest.mark.django_db
def test_the_same_data_migration_written_to_be_retried_passes() -> None:
    state = project_state_at_end()
    fixed = _load_fixture("non_idempotent_data_migration.py", "FixedMigration")

    assert rerun_data_operations(fixed, state, connection) == ["payments_feerule"]  # applied
    assert rerun_data_operations(fixed, state, connection) == []  # retried: nothing changes

    assert _php_fees() == [("cash", 2_000), ("gcash", 2_000), ("maya", 2_000)]


@pytest.mark.django_db
def test_a_run_python_that_changes_the_schema_is_not_re_run() -> None:
    state = project_state_at_end()
    trigger = MigrationLoader(None).get_migration("audit", "0002_append_only_trigger")

    assert rerun_data_operations(trigger, state, connection) is None
