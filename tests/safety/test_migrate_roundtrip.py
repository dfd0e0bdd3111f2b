"""The whole project migrates forward, back to zero and forward again on PostgreSQL, with data.

Runs `manage.py` in child processes against a throw-away database, as an operator would. The data
set is dumped before going back (going back to zero drops every table, so nothing else could carry
it across) and loaded after; every row count and the sum of every `*_minor` column must be equal.
"""

from pathlib import Path

import psycopg
from django.apps import apps

from tests.safety.databases import inventory_of, manage, rows_at, throwaway_database

# Rebuilt by post_migrate with new ids, so compared by count, not row for row.
_REBUILT = frozenset({"django_content_type", "auth_permission", "django_migrations"})


def _applied(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT app FROM django_migrations ORDER BY id").fetchall()
    return [app for (app,) in rows]


def _migrate_everything_to_zero(url: str) -> None:
    """Run `manage.py migrate <app> zero` until no migration is applied any more.

    Taking the app of the oldest applied migration first, Django unapplies every migration that
    depends on it along with it, so this ends in a couple of runs whatever apps exist.
    """
    runs = 0
    while applied := _applied(url):
        manage("migrate", applied[0], "zero", "--noinput", database_url=url)
        runs += 1
        assert runs < 20, f"still applied after {runs} runs: {sorted(set(applied))}"


def _money_columns_from_models() -> set[tuple[str, str]]:
    return {
        (model._meta.db_table, field.column)
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.concrete_fields
        if field.column.endswith("_minor")
    }


def test_forward_back_to_zero_and_forward_keeps_every_count_and_sum(tmp_path: Path) -> None:
    dump = tmp_path / "data.json"
    with throwaway_database("roundtrip") as url:
        # Up to each data migration in turn, which then runs a second time: it must change
        # nothing (docs/migrations.md, "Idempotent"). Then the rest, as an operator would.
        checked = manage(
            "shell",
            "-c",
            "from core.migration_safety import assert_data_migrations_idempotent; "
            "assert_data_migrations_idempotent()",
            database_url=url,
        )
        assert "2 data migrations ran twice with the same result" in checked.stdout
        assert (
            "not re-run: audit.0002_append_only_trigger, "
            "verification.0003_proofreview_search_indexes" in checked.stdout
        )
        manage("migrate", "--noinput", database_url=url)
        manage(
            "shell",
            "-c",
            # Eager: the proof's analysis runs in the shell, not queued for a worker.
            "from config.celery import app; app.conf.task_always_eager = True; "
            "from tests.safety.dataset import build_dataset; build_dataset()",
            database_url=url,
            media_root=tmp_path / "media",
        )
        before = inventory_of(url)
        # dumpdata writes times to the millisecond; rows are compared at that precision.
        before_rows = rows_at(url, skip=_REBUILT, milliseconds=True)
        manage(
            "dumpdata",
            "--natural-foreign",
            "--exclude=contenttypes",
            "--exclude=auth.permission",
            f"--output={dump}",
            database_url=url,
        )

        _migrate_everything_to_zero(url)
        assert list(inventory_of(url)) == ["django_migrations"]

        manage("migrate", "--noinput", database_url=url)
        manage("loaddata", str(dump), database_url=url)
        after = inventory_of(url)

        assert after == before
        assert rows_at(url, skip=_REBUILT, milliseconds=True) == before_rows

    # Every money column of every model is measured, so tables added later are covered too.
    measured = {(table, column) for table, facts in before.items() for column in facts["sums"]}
    assert _money_columns_from_models() <= measured
    assert before["payments_submission"]["rows"] == 4
    assert before["payments_submission"]["sums"]["amount_due_minor"] == {
        "PHP": 500_000,
        "MYR": 27_300,
    }
    assert before["payments_grouporderitem"]["sums"]["unit_price_minor"] == {"*": 129_550}
    # The money tables held money across the round trip (and `after == before` above).
    money = {
        table: (facts["rows"], facts["sums"])
        for table, facts in before.items()
        if table
        in (
            "payments_payment",
            "payments_paymentallocation",
            "payments_refund",
            "wallet_wallet",
            "wallet_creditgrant",
            "wallet_walletentry",
            "verification_paymentproof",
        )
    }
    assert money == {
        # PHP 1,300 overpaid (50 to credit) + PHP 2,000 from a proof; MYR 50 from credit.
        "payments_payment": (
            3,
            {
                "amount_minor": {"MYR": 5_000, "PHP": 330_000},
                "allocated_minor": {"MYR": 5_000, "PHP": 325_000},
                "credited_minor": {"MYR": 0, "PHP": 5_000},
                "refund_reserved_minor": {"MYR": 0, "PHP": 25_000},
                # GCash 3.5% + PHP 10 on each PHP payment; credit carries no fee.
                "fee_minor": {"MYR": 0, "PHP": 4_550 + 1_000 + 7_000 + 1_000},
            },
        ),
        "payments_paymentallocation": (3, {"amount_minor": {"*": 330_000}}),
        "payments_refund": (1, {"amount_minor": {"PHP": 25_000}}),
        "verification_paymentproof": (1, before["verification_paymentproof"]["sums"]),
        # Overpayment 50 + refund 250 in PHP; goodwill 50 in MYR, all spent.
        "wallet_creditgrant": (
            3,
            {
                "amount_minor": {"MYR": 5_000, "PHP": 30_000},
                "remaining_minor": {"MYR": 0, "PHP": 30_000},
            },
        ),
        "wallet_wallet": (2, {"balance_minor": {"MYR": 0, "PHP": 30_000}}),
        "wallet_walletentry": (
            4,
            {
                "amount_minor": {"MYR": 0, "PHP": 30_000},
                "balance_after_minor": {"MYR": 5_000, "PHP": 35_000},
            },
        ),
    }
    assert before["payments_submission"]["sums"]["paid_minor"] == {"PHP": 325_000, "MYR": 5_000}
    assert before["payments_submission"]["sums"]["refunded_minor"] == {"PHP": 25_000, "MYR": 0}
