"""Refuse migrations that would rewrite or lock a large table on PostgreSQL without saying so.

The rules are documented in docs/migrations.md. The checker walks every migration of the
project's own apps in dependency order over a ``ProjectState`` it builds as it goes, so each
operation is judged against the schema as it stood just before it ran: tables added later by any
app are covered without listing them here.

A migration that really must take the slow path says so per operation::

    from core.migration_safety import acknowledge

    operations = [
        acknowledge(
            migrations.AddField(...),
            rule="add-non-null-column",
            reason="table holds < 1,000 rows at release; deployed in the maintenance window",
        ),
    ]

``acknowledge`` returns the operation unchanged (Django runs it as usual); it only records the
rule and the reason on it, which the checker reads.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.postgres.operations import (
    AddConstraintNotValid,
    AddIndexConcurrently,
)
from django.db import migrations, models
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState

RULES: dict[str, str] = {
    "add-non-null-column": (
        "adds a NOT NULL column to an existing table: PostgreSQL fills every row under an "
        "ACCESS EXCLUSIVE lock (and the old code breaks on it). Add it nullable, backfill in "
        "batches in a data migration, then set NOT NULL in a later release."
    ),
    "alter-column-type": (
        "changes a column's type on an existing table: PostgreSQL rewrites the whole table "
        "under an ACCESS EXCLUSIVE lock. Add a new column, backfill, switch, drop the old one."
    ),
    "set-not-null": (
        "makes an existing column NOT NULL: PostgreSQL scans the whole table under an ACCESS "
        "EXCLUSIVE lock. Add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then "
        "set NOT NULL."
    ),
    "index-without-concurrently": (
        "builds an index (or foreign key) on a large table without CONCURRENTLY: writes to the "
        "table block until the build ends. Use AddIndexConcurrently in a non-atomic migration."
    ),
    "constraint-with-validation-scan": (
        "adds a constraint to a large table, which validates every row while holding a lock "
        "that blocks writes. Use AddConstraintNotValid + ValidateConstraint, or build the "
        "unique index concurrently first."
    ),
    "run-python-without-reverse": (
        "RunPython without reverse_code cannot be migrated backwards; give it a reverse "
        "(RunPython.noop when going back needs nothing)."
    ),
    "run-sql-without-reverse": (
        "RunSQL without reverse_sql cannot be migrated backwards; give it a reverse "
        "(RunSQL.noop when going back needs nothing)."
    ),
    "data-and-schema-mixed": (
        "a data migration (RunPython) shares its migration with schema operations; keep data "
        "migrations in their own migration so each can be re-run and reversed alone."
    ),
    "irreversible": "the operation cannot be reversed, so the migration has no backward path.",
}

# The money and state tables, by model label. Models are also large automatically when they
# hold money (a ``*_minor`` field) or a state (a ``status`` field), and so are their histories.
LARGE_MODELS: frozenset[str] = frozenset(
    {
        "accounts.user",
        "audit.auditevent",
        "payments.submission",
        "payments.submissionline",
        "payments.payment",
        "payments.paymentallocation",
        "payments.refund",
        "wallet.creditgrant",
        "wallet.walletentry",
        "verification.paymentproof",
    }
)

ACKNOWLEDGED_ATTRIBUTE = "safety_acknowledged"

# The rules are about PostgreSQL; column types are computed with its backend whatever the
# current database is, without ever connecting.
_POSTGRES = PostgresWrapper(
    {"ENGINE": "django.db.backends.postgresql", "NAME": ""}, alias="_safety"
)
_DATA_OPERATIONS = (migrations.RunPython,)

OperationT = TypeVar("OperationT", bound=Operation)


@dataclass(frozen=True)
class Finding:
    migration: str
    index: int
    rule: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.migration} operation {self.index}"
        return f"{where}: {self.detail} [{self.rule}] {RULES[self.rule]}"


def acknowledge(operation: OperationT, *, rule: str, reason: str) -> OperationT:
    """Mark one operation as knowingly breaking ``rule``, for ``reason``; return it unchanged."""
    if rule not in RULES:
        raise ValueError(f"unknown migration safety rule {rule!r}; known: {', '.join(RULES)}")
    if len(reason.strip()) < 10:
        raise ValueError("say why the operation is safe anyway (at least 10 characters)")
    acknowledged = dict(getattr(operation, ACKNOWLEDGED_ATTRIBUTE, {}))
    acknowledged[rule] = reason.strip()
    setattr(operation, ACKNOWLEDGED_ATTRIBUTE, acknowledged)
    return operation


def is_large(model_state: ModelState) -> bool:
    """Whether a table counts as large: listed, or holding money or a state, or their history."""
    label = f"{model_state.app_label}.{model_state.name_lower}"
    if label in LARGE_MODELS:
        return True
    if model_state.name_lower.startswith("historical"):
        base = f"{model_state.app_label}.{model_state.name_lower.removeprefix('historical')}"
        if base in LARGE_MODELS:
            return True
    return any(name.endswith("_minor") or name == "status" for name in model_state.fields)


def _column_type(field: models.Field) -> str | None:
    if field.many_to_many:
        return None
    if field.is_relation:
        # A foreign key's column type is its target's key type; the target does not change here.
        target = field.remote_field.model
        return f"fk:{target if isinstance(target, str) else target._meta.label_lower}".lower()
    return field.db_type(_POSTGRES)


_VARCHAR = re.compile(r"varchar\((\d+)\)")


def _type_change_rewrites(old_type: str | None, new_type: str | None) -> bool:
    if old_type == new_type or old_type is None or new_type is None:
        return False
    old_varchar, new_varchar = _VARCHAR.fullmatch(old_type), _VARCHAR.fullmatch(new_type)
    if old_varchar and new_varchar:
        # Widening a varchar is a catalogue change in PostgreSQL; narrowing re-checks every row.
        return int(new_varchar[1]) < int(old_varchar[1])
    # varchar → text is a catalogue change too; every other type change rewrites.
    return not (old_varchar and new_type == "text")


def _creates_index(field: models.Field) -> bool:
    return bool(field.db_index or field.unique) and not field.many_to_many


def _operation_findings(
    operation: Operation, app_label: str, state: ProjectState, new_models: set[tuple[str, str]]
) -> Iterable[tuple[str, str]]:
    """Yield (rule, detail) for one operation judged against the state before it."""
    if isinstance(operation, migrations.SeparateDatabaseAndState):
        for inner in operation.database_operations:
            yield from _operation_findings(inner, app_label, state, new_models)
        return
    if isinstance(operation, migrations.RunPython):
        if operation.reverse_code is None:
            yield "run-python-without-reverse", "RunPython has no reverse_code"
        return
    if isinstance(operation, migrations.RunSQL):
        if operation.reverse_sql is None:
            yield "run-sql-without-reverse", "RunSQL has no reverse_sql"
        return
    if not operation.reversible:
        yield "irreversible", f"{type(operation).__name__} is not reversible"

    model_name = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    if not isinstance(model_name, str):
        return
    key = (app_label, model_name.lower())
    if key in new_models or key not in state.models:
        return  # A table created by this very migration is empty: nothing to rewrite or lock.
    model_state = state.models[key]
    table = f"{app_label}.{model_state.name}"
    large = is_large(model_state)

    if isinstance(operation, migrations.AddField):
        field = operation.field
        if field.many_to_many:
            return
        if not field.null:
            yield "add-non-null-column", f"AddField {table}.{operation.name} is NOT NULL"
        if large and (_creates_index(field) or field.is_relation):
            yield "index-without-concurrently", f"AddField {table}.{operation.name} adds an index"
    elif isinstance(operation, migrations.AlterField):
        old = model_state.fields.get(operation.name)
        new = operation.field
        if old is None:
            return
        if _type_change_rewrites(_column_type(old), _column_type(new)):
            yield (
                "alter-column-type",
                f"AlterField {table}.{operation.name}: {_column_type(old)} → {_column_type(new)}",
            )
        if old.null and not new.null:
            yield "set-not-null", f"AlterField {table}.{operation.name} drops NULL"
        if large and _creates_index(new) and not _creates_index(old):
            yield "index-without-concurrently", f"AlterField {table}.{operation.name} adds an index"
    elif isinstance(operation, migrations.AddIndex):
        if large and not isinstance(operation, AddIndexConcurrently):
            yield "index-without-concurrently", f"AddIndex {operation.index.name} on {table}"
    elif isinstance(operation, migrations.AddConstraint):
        if large and not isinstance(operation, AddConstraintNotValid):
            yield (
                "constraint-with-validation-scan",
                f"AddConstraint {operation.constraint.name} on {table}",
            )
    elif (
        isinstance(operation, migrations.AlterUniqueTogether | migrations.AlterIndexTogether)
        and large
        and operation.option_value
    ):
        yield "index-without-concurrently", f"{type(operation).__name__} on {table}"


def check_migration(migration: migrations.Migration, state: ProjectState) -> list[Finding]:
    """Judge every operation of ``migration``, advancing ``state`` past it as Django would."""
    findings: list[Finding] = []
    label = f"{migration.app_label}.{migration.name}"
    new_models: set[tuple[str, str]] = set()
    has_data = any(isinstance(op, _DATA_OPERATIONS) for op in migration.operations)
    has_schema = any(not isinstance(op, _DATA_OPERATIONS) for op in migration.operations)
    for index, operation in enumerate(migration.operations):
        acknowledged: dict[str, Any] = getattr(operation, ACKNOWLEDGED_ATTRIBUTE, {})
        found = list(_operation_findings(operation, migration.app_label, state, new_models))
        if has_data and has_schema and isinstance(operation, _DATA_OPERATIONS):
            found.append(("data-and-schema-mixed", "RunPython beside schema operations"))
        findings.extend(
            Finding(label, index, rule, detail)
            for rule, detail in found
            if rule not in acknowledged
        )
        if isinstance(operation, migrations.CreateModel):
            new_models.add((migration.app_label, operation.name_lower))
        operation.state_forwards(migration.app_label, state)
    return findings


def local_app_labels() -> set[str]:
    """The apps whose code lives in this repository (not in site-packages)."""
    base = Path(settings.BASE_DIR).resolve()
    labels = set()
    for app_config in global_apps.get_app_configs():
        path = Path(app_config.path).resolve()
        if path.is_relative_to(base) and "site-packages" not in path.parts:
            labels.add(app_config.label)
    return labels


def project_plan() -> tuple[MigrationLoader, list[tuple[str, str]]]:
    """Load every migration from disk (no database) and order them as ``migrate`` would."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    seen: set[tuple[str, str]] = set()
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                plan.append(node)
    return loader, plan


def check_project() -> list[Finding]:
    """Check every migration of the project's own apps; return what breaks the rules."""
    loader, plan = project_plan()
    local = local_app_labels()
    state = ProjectState(real_apps=loader.unmigrated_apps)
    findings: list[Finding] = []
    for key in plan:
        migration = loader.graph.nodes[key]
        if key[0] in local:
            findings.extend(check_migration(migration, state))
        else:
            for operation in migration.operations:
                operation.state_forwards(migration.app_label, state)
    return findings


def project_state_at_end() -> ProjectState:
    """The schema after every migration, built from the files; the base for checking a new one."""
    loader, plan = project_plan()
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in plan:
        for operation in loader.graph.nodes[key].operations:
            operation.state_forwards(key[0], state)
    return state


# --- Data migrations run twice ------------------------------------------------------------------
# docs/migrations.md: a data migration must be idempotent (a failed deploy is retried, `migrate`
# is re-run by hand). The round-trip test proves it for every data migration of the project: it
# migrates a fresh database up to each one in turn and runs its RunPython code a second time.


def _table_contents(connection: Any) -> dict[str, list[str]]:
    from core.db_inventory import quote, table_names

    contents: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for table in table_names(cursor, connection.vendor):
            if table == "django_migrations":
                continue
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (names from the catalogue)
            contents[table] = sorted(repr(row) for row in cursor.fetchall())
    return contents


class _SchemaChange(Exception):
    """A RunPython that sends SQL through the schema editor: a schema change, not data."""


def rerun_data_operations(
    migration: migrations.Migration, state: ProjectState, connection: Any
) -> list[str] | None:
    """Run the RunPython operations of an applied ``migration`` once more; return the tables
    whose content the second run changed (empty: idempotent).

    ``state`` is the project state just before the migration, which is what Django hands its
    code (historical models). Code that sends SQL through the schema editor (a trigger, a
    vendor-specific DDL statement) is a schema change written as RunPython: it is stopped before
    its first statement, everything is rolled back and None is returned.
    """
    before = _table_contents(connection)
    from_state = state
    try:
        with connection.schema_editor(atomic=True) as editor:

            def refuse(sql: Any, params: Any = ()) -> None:
                raise _SchemaChange(str(sql)[:80])

            editor.execute = refuse  # type: ignore[method-assign]
            for operation in migration.operations:
                to_state = from_state.clone()
                operation.state_forwards(migration.app_label, to_state)
                if isinstance(operation, _DATA_OPERATIONS):
                    operation.database_forwards(migration.app_label, editor, from_state, to_state)
                from_state = to_state
    except _SchemaChange:
        return None
    after = _table_contents(connection)
    return sorted(
        table for table in set(before) | set(after) if before.get(table) != after.get(table)
    )


def data_migrations() -> list[tuple[str, str]]:
    """The project's own migrations that hold RunPython, in the order ``migrate`` applies them."""
    loader, plan = project_plan()
    local = local_app_labels()
    return [
        key
        for key in plan
        if key[0] in local
        and any(isinstance(op, _DATA_OPERATIONS) for op in loader.graph.nodes[key].operations)
    ]


def check_data_migrations_idempotent(connection: Any = None) -> tuple[list[str], list[str]]:
    """Migrate the database step by step to each data migration and run it a second time.

    Returns (problems, schema changes): one message per data migration whose second run changed
    a table, and the RunPython migrations found to change the schema (not re-run). Meant for a
    fresh, throw-away database: it applies migrations without post_migrate signals; run
    ``migrate`` afterwards to finish.
    """
    from django.db import connection as default_connection
    from django.db.migrations.executor import MigrationExecutor

    connection = connection or default_connection
    problems: list[str] = []
    schema: list[str] = []
    for key in data_migrations():
        executor = MigrationExecutor(connection)
        executor.migrate([key])
        loader = MigrationLoader(connection)
        changed = rerun_data_operations(
            loader.get_migration(*key), loader.project_state(key, at_end=False), connection
        )
        if changed is None:
            schema.append(f"{key[0]}.{key[1]}")
        elif changed:
            problems.append(
                f"{key[0]}.{key[1]} changed {', '.join(changed)} when run a second time: a data "
                "migration must be idempotent (docs/migrations.md)"
            )
    return problems, schema


def assert_data_migrations_idempotent() -> None:
    """The entry point the round-trip test runs in a child process (``manage.py shell``)."""
    problems, schema = check_data_migrations_idempotent()
    if problems:
        raise AssertionError("\n".join(problems))
    ran = len(data_migrations()) - len(schema)
    print(f"{ran} data migrations ran twice with the same result")
    print(f"RunPython changing the schema, not re-run: {', '.join(schema) or 'none'}")
