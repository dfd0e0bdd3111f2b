"""Finance benchmarks, each next to its anchor measured in the same run.

    make bench-finance        (runs this through scripts/with-test-services)

1. Statement import: lines per second of the real import (parse, checksum, insert with
   ON CONFLICT DO NOTHING in committed batches, progress updates) next to a plain
   ``bulk_create`` of the same rows. Target: at least 25% of the bulk_create rate.
2. Matching: seconds per new statement line of a reconciliation run with 10,000 earlier lines in
   the database, then with 1,000,000 (the extra ones built with generate_series). Target: the
   per-line time grows by at most 1.5x.
3. CSV export of 1,000,000 payments in a fresh process: peak resident memory next to the
   process's baseline just before the export. Target: at most 40 MiB above the baseline.

Everything runs in a throw-away database beside DATABASE_URL's, dropped at the end.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
IMPORT_LINES = int(os.environ.get("BENCH_IMPORT_LINES", "50000"))
MATCH_LINES = int(os.environ.get("BENCH_MATCH_LINES", "2000"))
SMALL = 10_000
ROUNDS = 3
LARGE = int(os.environ.get("BENCH_LARGE_LINES", "1000000"))
TARGET_IMPORT_RATIO = 0.25
TARGET_GROWTH = 1.5
TARGET_EXPORT_MIB = 40.0


def _urls() -> tuple[str, str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = (parts.path.lstrip("/") or "gomflow") + "_bench_finance"
    admin = urlunsplit(parts._replace(path="/postgres")).replace("postgres://", "postgresql://", 1)
    bench = urlunsplit(parts._replace(path=f"/{name}"))
    return admin, bench, name


def _recreate(admin: str, name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _gcash_csv(count: int, *, first: int, day: str) -> bytes:
    rows = ["Date and Time,Description,Reference No.,Debit,Credit,Balance"]
    for number in range(first, first + count):
        rows.append(
            f"{day} {8 + (number // 60) % 12:02d}:{number % 60:02d},Received GCash from "
            f"0917{number:07d},{7000000000000 + number},,{100 + number % 5000}.00,"
        )
    return ("\n".join(rows) + "\n").encode()


def _make_fixtures() -> dict[str, object]:
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from payments.models import GroupOrder, PaymentMethod

    gom = User.objects.create_user(email="bench-gom@example.test", password=None, is_staff=True)
    buyer = User.objects.create_user(email="bench-buyer@example.test", password=None)
    order = GroupOrder.objects.create(
        owner=gom,
        title="Bench order",
        country="PH",
        currency="PHP",
        order_deadline=timezone.now() + timedelta(days=30),
        payment_deadline=timezone.now() + timedelta(days=60),
    )

    def method(name: str) -> PaymentMethod:
        return PaymentMethod.objects.create(
            owner=gom,
            template_code="ph-gcash",
            method_type="gcash",
            country="PH",
            display_name=name,
            account_name="BENCH GOM",
            account_number="09171234567",
        )

    return {
        "gom": gom,
        "buyer": buyer,
        "order": order,
        "import": method("import"),
        "anchor": method("anchor"),
        "match": method("match"),
    }


def bench_import(fx: dict[str, object]) -> tuple[float, float]:
    from django.db import connection, transaction

    from payments.reconciliation.importing import iter_parsed, statement_create, statement_import
    from payments.reconciliation.models import StatementLine
    from payments.reconciliation.presets import PRESETS

    data = _gcash_csv(IMPORT_LINES, first=0, day="2026-03-02")
    statement = statement_create(
        actor=None, payment_method=fx["import"], data=data, file_name="bench.csv", preset="gcash"
    )
    started = time.perf_counter()
    statement = statement_import(statement_id=statement.pk)
    real_seconds = time.perf_counter() - started
    assert statement.lines_added == IMPORT_LINES, statement.lines_added

    # The anchor: the same rows, already parsed, saved with a plain bulk_create.
    parsed = list(
        iter_parsed(data, "bench.csv", preset=PRESETS["gcash"], payment_method=fx["anchor"])
    )
    rows = [
        StatementLine(
            statement=statement,
            payment_method=fx["anchor"],
            row_number=item.row_number,
            posted_at=item.posted_at,
            direction=item.direction,
            amount_minor=item.amount_minor,
            currency=item.currency,
            reference=item.reference,
            reference_normalized=item.reference_normalized,
            payer=item.payer,
            description=item.description,
            balance_minor=item.balance_minor,
            checksum=item.checksum,
        )
        for item in parsed
    ]
    started = time.perf_counter()
    with transaction.atomic():
        StatementLine.objects.bulk_create(rows, batch_size=2000)
    anchor_seconds = time.perf_counter() - started
    # The matching figures count earlier lines exactly: leave none of these behind.
    StatementLine.objects.filter(payment_method__in=[fx["import"], fx["anchor"]]).delete()
    connection.close()
    return IMPORT_LINES / real_seconds, IMPORT_LINES / anchor_seconds


_PAYMENTS_SQL = """
INSERT INTO payments_payment (group_order_id, buyer_id, currency, amount_minor, allocated_minor,
  credited_minor, refund_reserved_minor, fee_minor, source, source_reference, method_type,
  payment_method_id, reference, paid_at, status, idempotency_key, void_reason, created_at)
SELECT %(order)s, %(buyer)s, 'PHP', (100 + g %% 5000) * 100, 0, (100 + g %% 5000) * 100, 0, 0,
  'proof', '', 'gcash', %(method)s, (%(prefix)s + g)::text,
  %(paid)s::timestamptz + (g %% 600) * interval '1 minute',
  'recorded', 'bench-' || %(tag)s || '-' || g, '', %(created)s::timestamptz
FROM generate_series(%(first)s, %(last)s) AS g
"""

_LINES_SQL = """
INSERT INTO payments_statementline (statement_id, payment_method_id, row_number, posted_at,
  direction, amount_minor, currency, reference, reference_normalized, payer, description,
  checksum, match_status)
SELECT %(statement)s, %(method)s, g, %(paid)s::timestamptz + (g %% 600) * interval '1 minute',
  'credit', (100 + g %% 5000) * 100, 'PHP', (%(prefix)s + g)::text, (%(prefix)s + g)::text,
  'BENCH BUYER', 'Received', md5(%(tag)s || g::text) || md5(g::text || %(tag)s), 'matched'
FROM generate_series(%(first)s, %(last)s) AS g
"""

_MATCHES_SQL = """
INSERT INTO payments_statementmatch (line_id, payment_id, kind, status, created_at)
SELECT l.id, p.id, 'reference', 'confirmed', now()
FROM payments_statementline l
JOIN payments_payment p ON p.reference = l.reference AND p.payment_method_id = l.payment_method_id
WHERE l.statement_id = %(statement)s AND l.row_number BETWEEN %(first)s AND %(last)s
"""


def _earlier(fx: dict[str, object], statement_id: int, first: int, last: int) -> None:
    """Add matched history: payments, lines and their matches, all dated in 2025."""
    from django.db import connection

    params = {
        "order": fx["order"].pk,  # type: ignore[attr-defined]
        "buyer": fx["buyer"].pk,  # type: ignore[attr-defined]
        "method": fx["match"].pk,  # type: ignore[attr-defined]
        "statement": statement_id,
        "prefix": 5_000_000_000_000,
        "paid": "2025-01-01 08:00+08",
        "created": "2025-01-02 08:00+08",
        "tag": f"h{first}",
        "first": first,
        "last": last,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PAYMENTS_SQL, params)
        cursor.execute(_LINES_SQL, params)
        cursor.execute(_MATCHES_SQL, params)
        cursor.execute("ANALYZE payments_payment")
        cursor.execute("ANALYZE payments_statementline")
        cursor.execute("ANALYZE payments_statementmatch")


def _new_batch(fx: dict[str, object], first: int, day: str) -> None:
    """Import MATCH_LINES new lines and record their payments (not timed)."""
    from django.db import connection

    from payments.reconciliation.importing import statement_create, statement_import

    data = _gcash_csv(MATCH_LINES, first=first, day=day)
    statement = statement_create(
        actor=None, payment_method=fx["match"], data=data, file_name=f"{day}.csv", preset="gcash"
    )
    statement_import(statement_id=statement.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            _PAYMENTS_SQL,
            {
                "order": fx["order"].pk,  # type: ignore[attr-defined]
                "buyer": fx["buyer"].pk,  # type: ignore[attr-defined]
                "method": fx["match"].pk,  # type: ignore[attr-defined]
                "prefix": 7_000_000_000_000,
                "paid": f"{day} 08:00+08",
                "created": "2025-06-01 08:00+08",
                "tag": f"n{first}",
                "first": first,
                "last": first + MATCH_LINES - 1,
            },
        )
        cursor.execute("ANALYZE payments_payment")


def _timed_run(fx: dict[str, object]) -> float:
    from payments.reconciliation.matching import reconcile_account

    started = time.perf_counter()
    run = reconcile_account(payment_method_id=fx["match"].pk)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    assert run is not None
    assert run.matched == MATCH_LINES, (run.matched, run.discrepancies)
    return seconds / MATCH_LINES


def bench_matching(fx: dict[str, object]) -> tuple[float, float, int, int]:
    from payments.reconciliation.models import Statement, StatementLine

    history = Statement.objects.create(
        payment_method=fx["match"],
        preset="gcash",
        currency="PHP",
        file_name="history",
        file_sha256="0" * 64,
        status=Statement.Status.IMPORTED,
    )
    # The warm-up batch's lines count among the earlier ones: SMALL in all when measuring.
    _earlier(fx, history.pk, 1, SMALL - MATCH_LINES)
    # A first run settles the history's bookkeeping so both measured runs do the same work.
    _new_batch(fx, 0, "2026-05-04")
    _timed_run(fx)
    # Each size is measured ROUNDS times on fresh batches (a few days apart, outside each
    # other's date window); the median is reported, which keeps a busy machine's noise out.
    small_count = StatementLine.objects.count()
    small_times = []
    for round_number in range(ROUNDS):
        _new_batch(fx, 100_000 + round_number * 10_000, f"2026-06-{2 + round_number * 4:02d}")
        small_times.append(_timed_run(fx))
    added = LARGE - StatementLine.objects.count()
    _earlier(fx, history.pk, SMALL, SMALL + added - 1)
    large_count = StatementLine.objects.count()
    large_times = []
    for round_number in range(ROUNDS):
        _new_batch(fx, 200_000 + round_number * 10_000, f"2026-07-{2 + round_number * 4:02d}")
        large_times.append(_timed_run(fx))
    small, large = statistics.median(small_times), statistics.median(large_times)
    return small, large, small_count, large_count


EXPORT_CHILD = r"""
import os, sys, threading, time, json
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.db import connection
from accounts.models import User
from payments.reconciliation.exports import EXPORTS, csv_chunks
from payments.reconciliation.reports import ReportFilters

def rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0

user = User.objects.get(email="bench-finance@example.test")
connection.ensure_connection()
# Warm the code paths once on a tiny slice so imports and caches count as baseline.
list(csv_chunks(EXPORTS["payments"], user, ReportFilters(currency="MYR")))
baseline = rss_kib("VmRSS")
peak = [baseline]
running = True
def sample():
    while running:
        peak[0] = max(peak[0], rss_kib("VmRSS"))
        time.sleep(0.01)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
started = time.perf_counter()
rows = -1
size = 0
for chunk in csv_chunks(EXPORTS["payments"], user, ReportFilters(currency="PHP")):
    rows += chunk.count("\n")
    size += len(chunk)
seconds = time.perf_counter() - started
running = False
thread.join()
peak[0] = max(peak[0], rss_kib("VmRSS"))
print(json.dumps({"rows": rows, "bytes": size, "seconds": seconds,
                  "baseline_kib": baseline, "peak_kib": peak[0]}))
"""


def bench_export(bench_url: str) -> dict[str, float]:
    import json

    from accounts.models import User

    User.objects.create_superuser(email="bench-finance@example.test", password=None)
    env = {**os.environ, "DATABASE_URL": bench_url}
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _verdict(meets: bool) -> str:
    return "met" if meets else "NOT met"


def main() -> None:
    admin, bench_url, name = _urls()
    _recreate(admin, name)
    try:
        _setup_django(bench_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        fx = _make_fixtures()
        load_before = os.getloadavg()[0]
        real_rate, anchor_rate = bench_import(fx)
        small, large, small_count, large_count = bench_matching(fx)
        from payments.models import Payment

        payments = Payment.objects.filter(currency="PHP").count()
        export = bench_export(bench_url)
    finally:
        from django.db import connections

        connections.close_all()
        _recreate(admin, name, drop_only=True)

    import_ratio = real_rate / anchor_rate
    growth = large / small
    above_mib = (export["peak_kib"] - export["baseline_kib"]) / 1024
    lines = [
        "# Finance: statement import, matching, CSV export",
        "",
        f"One PostgreSQL, {os.cpu_count()} CPU cores shared with other sessions; machine load"
        f" (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f}.",
        "",
        "| what | figure | anchor (same run) | ratio | target | verdict |",
        "|---|---:|---:|---:|---|---|",
        f"| statement import, GCash CSV, {IMPORT_LINES:,} lines | {real_rate:,.0f} lines/s"
        f" | plain bulk_create {anchor_rate:,.0f} lines/s | {import_ratio:.0%} |"
        f" ≥ {TARGET_IMPORT_RATIO:.0%} | {_verdict(import_ratio >= TARGET_IMPORT_RATIO)} |",
        f"| matching per new line (median of {ROUNDS} runs of {MATCH_LINES:,} new lines),"
        f" {large_count:,} earlier lines"
        f" in the database | {large * 1000:.3f} ms | {small * 1000:.3f} ms with"
        f" {small_count:,} lines earlier | {growth:.2f}x | ≤ {TARGET_GROWTH}x |"
        f" {_verdict(growth <= TARGET_GROWTH)} |",
        f"| CSV export of {export['rows']:,} payments ({export['bytes'] / 1e6:.0f} MB,"
        f" {export['seconds']:.1f} s) | peak RSS {export['peak_kib'] / 1024:.1f} MiB |"
        f" baseline {export['baseline_kib'] / 1024:.1f} MiB | +{above_mib:.1f} MiB |"
        f" ≤ +{TARGET_EXPORT_MIB:.0f} MiB | {_verdict(above_mib <= TARGET_EXPORT_MIB)} |",
        "",
        f"The import figure includes parsing (two passes: count for the progress bar, then"
        f" insert), checksums, ON CONFLICT DO NOTHING batches of the default size and the"
        f" progress updates; the anchor only inserts rows parsed beforehand. The export ran in a"
        f" fresh process over {payments:,} PHP payments.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "finance.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
