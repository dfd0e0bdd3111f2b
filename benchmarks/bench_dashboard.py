"""Verification queue on 1,000,000 submissions, next to a plain COUNT(*) in the same run.

    make bench-dashboard        (runs this through scripts/with-test-services)

What it does:
1. creates a throw-away database beside DATABASE_URL's (dropped at the end, whatever happens),
   migrates it, and fills it with SQL ``generate_series``: 10,000 buyers, 200 group orders of 5
   GOMs, and 1,000,000 submissions awaiting a decision, each with its proof and queue row;
2. times the queue page (the admin view, in-process, so this is server time without the
   network) for a GOM (a fifth of the rows are theirs) and for finance (all rows), plus a
   search and a flag filter, and counts its queries;
3. times ``SELECT COUNT(*)`` of the queue table (the anchor: what a paginator counting every
   page would pay at least);
4. approves 1,000 submissions in one bulk call (payments, allocations, history and audit rows,
   buyer e-mails) and checks every row it should have written;
5. prints the figures side by side with the ratio; writes them to benchmarks/results/dashboard.md.

Targets (issue #5): page p50 <= 0.2 x COUNT(*), queries per page constant, bulk 1,000 <= 5 s.
"""

import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = int(os.environ.get("BENCH_SUBMISSIONS", "1000000"))
BUYERS = 10_000
GOMS = 5
ORDERS_PER_GOM = 40
PAGE_SAMPLES = int(os.environ.get("BENCH_PAGE_SAMPLES", "30"))
COUNT_SAMPLES = 5
BULK = 1000
TARGET_RATIO = 0.2
BIG_TABLES = ("payments_submission", "verification_paymentproof", "verification_proofreview")
TARGET_BULK_SECONDS = 5.0


def _urls() -> tuple[str, str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = (parts.path.lstrip("/") or "gomflow") + "_bench_dashboard"
    admin = urlunsplit(parts._replace(path="/postgres"))
    bench = urlunsplit(parts._replace(path=f"/{name}"))
    return admin, bench, name


def _pg(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _admin_sql(admin_url: str, statement: str) -> None:
    with psycopg.connect(_pg(admin_url), autocommit=True) as conn:
        conn.execute(statement)


SEED_SQL = """
INSERT INTO accounts_user (password, is_superuser, email, full_name, phone, is_staff, is_active,
                           date_joined, first_name, last_name)
SELECT '!', false, 'buyer' || i || '@bench.test', 'Buyer ' || i || ' ' || md5(i::text), '',
       false, true, now(), '', ''
FROM generate_series(1, %(buyers)s) AS i;

INSERT INTO payments_grouporder (owner_id, title, description, country, currency,
       order_deadline, payment_deadline, status, payment_timing, installment_interval_days,
       refundable_percent, refund_reasons, auto_approve_statement_confirmed, created_at)
SELECT g.id, 'Bench order ' || g.id || '-' || o, '', 'PH', 'PHP', now() + interval '30 days',
       now() + interval '60 days', 'open', 'full', 30, 100, '[]'::jsonb, false, now()
FROM accounts_user g CROSS JOIN generate_series(1, %(orders_per_gom)s) AS o
WHERE g.email LIKE 'gom%%@bench.test';

INSERT INTO payments_paymentmethod (owner_id, template_code, method_type, country, display_name,
       account_name, account_number, extra_details, qr_image, instructions, is_active, created_at)
SELECT id, 'ph-gcash', 'gcash', 'PH', 'GCash', 'BENCH GOM', '09171234567', '{}'::jsonb, '', '',
       true, now()
FROM accounts_user WHERE email LIKE 'gom%%@bench.test';

CREATE TEMP TABLE bench_orders AS
SELECT row_number() OVER (ORDER BY o.id) - 1 AS n, o.id AS order_id, m.id AS method_id
FROM payments_grouporder o JOIN payments_paymentmethod m ON m.owner_id = o.owner_id;

CREATE TEMP TABLE bench_buyers AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, email, full_name
FROM accounts_user WHERE email LIKE 'buyer%%@bench.test';

INSERT INTO payments_submission (code, group_order_id, buyer_id, buyer_name, buyer_phone,
       amount_due_minor, currency, payment_method_id, status, verification_notes, paid_minor,
       refunded_minor, version, terms_version, created_at, updated_at)
SELECT 'B' || lpad(to_hex(i), 10, '0'), o.order_id, b.id, b.full_name, '', 125000, 'PHP',
       o.method_id, 'proof_submitted', '', 0, 0, 2, '2026-01',
       now() - (%(n)s - i) * interval '1 second', now() - (%(n)s - i) * interval '1 second'
FROM generate_series(1, %(n)s) AS i
JOIN bench_orders o ON o.n = i %% %(orders)s
JOIN bench_buyers b ON b.n = i %% %(buyers)s;

INSERT INTO verification_paymentproof (submission_id, uploaded_by_id, storage_name, original_name,
       original_type, content_type, size_bytes, sha256, perceptual_hash, scan_status, created_at,
       analysis_status, analysis_reason, provider, reference, amount_minor, currency, recipient,
       raw_text, confidence, suggestion, flags, hints)
SELECT s.id, s.buyer_id, 'bench/' || s.id || '.png', 'proof.png', 'image/png', 'image/png', 1000,
       md5(s.id::text) || md5((s.id + 1)::text), '', 'not_scanned', s.created_at, 'done', '',
       'gcash', upper(substr(md5('ref' || s.id), 1, 13)),
       CASE WHEN s.id %% 10 = 0 THEN 100000 ELSE 125000 END, 'PHP', '', '',
       CASE WHEN s.id %% 7 = 0 THEN 0.350 ELSE 0.900 END,
       CASE WHEN s.id %% 10 = 0 THEN 'review' ELSE 'approve' END,
       CASE WHEN s.id %% 10 = 0 THEN '[{"code": "amount_mismatch"}]'::jsonb
            WHEN s.id %% 97 = 0 THEN '[{"code": "duplicate_reference"}]'::jsonb
            ELSE '[]'::jsonb END,
       '[]'::jsonb
FROM payments_submission s;

INSERT INTO verification_proofreview (proof_id, submission_id, group_order_id, state, queued_at,
       submission_code, buyer_name, buyer_email, method_type, currency, reference, confidence,
       suggestion, flags, reason_code, reason_text)
SELECT p.id, s.id, s.group_order_id, 'awaiting', p.created_at, s.code, s.buyer_name, u.email,
       'gcash', 'PHP', p.reference, p.confidence, p.suggestion,
       COALESCE((SELECT jsonb_agg(f->>'code') FROM jsonb_array_elements(p.flags) f), '[]'::jsonb),
       '', ''
FROM verification_paymentproof p
JOIN payments_submission s ON s.id = p.submission_id
JOIN accounts_user u ON u.id = s.buyer_id;
"""


def _seed(bench_url: str) -> dict[str, float]:
    timings = {}
    with psycopg.connect(_pg(bench_url), autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO accounts_user (password, is_superuser, email, full_name, phone, is_staff,"
            " is_active, date_joined, first_name, last_name) SELECT '!', false,"
            " 'gom' || i || '@bench.test', 'GOM ' || i, '', true, true, now(), '', ''"
            f" FROM generate_series(1, {GOMS}) AS i"
        )
        orders = GOMS * ORDERS_PER_GOM
        params = {
            "buyers": BUYERS,
            "orders_per_gom": ORDERS_PER_GOM,
            "n": SUBMISSIONS,
            "orders": orders,
        }
        with conn.transaction():
            # Bulk-load the way one restores a dump: indexes built once at the end, foreign keys
            # not re-checked row by row (the rows are consistent by construction).
            conn.execute("SET LOCAL session_replication_role = replica")
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                [list(BIG_TABLES)],
            ).fetchall()
            for index_name, _ in indexes:
                conn.execute(f'DROP INDEX "{index_name}"')
            for statement in SEED_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(statement, params)
            for _, definition in indexes:
                conn.execute(definition)
        timings["seed"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["analyze"] = time.perf_counter() - started
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _time_page(client, url: str) -> tuple[list[float], int, int]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert client.get(url).status_code == 200  # warm-up
    samples = []
    for _ in range(PAGE_SAMPLES):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    rows = response.content.decode().count('class="queue-row"')
    return samples, len(queries.captured_queries), rows


def _count_ms(table: str) -> tuple[float, int]:
    from django.db import connection

    samples = []
    total = 0
    with connection.cursor() as cursor:
        for _ in range(COUNT_SAMPLES):
            started = time.perf_counter()
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            total = cursor.fetchone()[0]
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), total


def _measure() -> dict:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core import mail
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from accounts.roles import FINANCE_GROUP, GOM_GROUP
    from audit.models import AuditEvent
    from payments.models import Payment, PaymentAllocation, Submission
    from verification.decisions import submissions_decide_bulk
    from verification.models import ProofReview

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started
    seed = _seed(os.environ["DATABASE_URL"])

    gom = User.objects.get(email="gom1@bench.test")
    gom.groups.add(Group.objects.get(name=GOM_GROUP))
    finance = User.objects.create_user(email="finance@bench.test", password=None, is_staff=True)
    finance.groups.add(Group.objects.get(name=FINANCE_GROUP))
    results: dict = {"migrate": migrate_seconds, **seed}

    pages = {}
    for label, user, url in (
        ("GOM: queue, oldest first", gom, "/admin/verification/proofreview/"),
        ("finance: queue (all rows)", finance, "/admin/verification/proofreview/"),
        ("GOM: 100 rows a page", gom, "/admin/verification/proofreview/?per_page=100"),
        ("GOM: page 50", gom, "/admin/verification/proofreview/?page=50"),
        ("GOM: flag filter", gom, "/admin/verification/proofreview/?flag=duplicate_reference"),
        ("GOM: search a name", gom, "/admin/verification/proofreview/?q=buyer%2010%20"),
        ("finance: search a reference", finance, None),
    ):
        client = Client()
        client.force_login(user)
        if url is None:
            reference = ProofReview.objects.order_by("-pk").values_list("reference", flat=True)[:1][
                0
            ]
            url = f"/admin/verification/proofreview/?q={reference}"
        samples, queries, rows = _time_page(client, url)
        pages[label] = {
            "p50": statistics.median(samples),
            "p95": _percentile(samples, 0.95),
            "queries": queries,
            "rows": rows,
        }
    results["pages"] = pages
    results["count_ms"], results["count_rows"] = _count_ms("verification_proofreview")
    results["count_submissions_ms"], _ = _count_ms("payments_submission")

    # Bulk approval of the GOM's 1,000 oldest clean proofs (exact amount, no flag).
    ids = list(
        ProofReview.objects.filter(group_order__owner=gom, state="awaiting", flags=[])
        .exclude(suggestion="review")
        .order_by("queued_at")
        .values_list("submission_id", flat=True)[:BULK]
    )
    audit_before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    history_before = Submission.history.count()
    mail.outbox = []
    started = time.perf_counter()
    outcome = submissions_decide_bulk(actor=gom, action="approve", submission_ids=ids)
    results["bulk_seconds"] = time.perf_counter() - started
    results["bulk_approved"] = sum(1 for r in outcome if r.outcome == "approved")
    results["bulk_payments"] = Payment.objects.filter(allocations__submission_id__in=ids).count()
    results["bulk_allocations"] = PaymentAllocation.objects.filter(submission_id__in=ids).count()
    results["bulk_verified"] = Submission.objects.filter(pk__in=ids, status="verified").count()
    results["bulk_history"] = Submission.history.count() - history_before
    results["bulk_audit"] = AuditEvent.objects.filter(
        pk__gt=audit_before, action="verification.approved"
    ).count()
    results["bulk_audit_all"] = AuditEvent.objects.filter(pk__gt=audit_before).count()
    results["bulk_mails"] = len(getattr(mail, "outbox", []))
    results["bulk_tasks"] = 0
    if os.environ.get("REDIS_URL"):
        from config.celery import app

        results["bulk_tasks"] = app.control.purge()
    return results


def _report(results: dict, load_before: float) -> str:
    count = results["count_ms"]
    lines = [
        "# Verification dashboard: the queue on 1,000,000 submissions",
        "",
        f"{results['count_rows']:,} queue rows (and as many submissions and proofs), built in"
        f" {results['seed']:.0f} s with generate_series (VACUUM ANALYZE"
        f" {results['analyze']:.0f} s);"
        f" {os.cpu_count()} CPU cores shared with other sessions. Page times are the admin view"
        f" served in-process (server time, no network), {PAGE_SAMPLES} samples each.",
        "",
        f"Anchor: `SELECT COUNT(*) FROM verification_proofreview` = **{count:.1f} ms** (median of"
        f" {COUNT_SAMPLES}); `COUNT(*)` of payments_submission = "
        f"{results['count_submissions_ms']:.1f} ms.",
        "",
        "| page | rows | queries | p50 ms | p95 ms | p50 / COUNT(*) | target ≤ 0.2 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, page in results["pages"].items():
        ratio = page["p50"] / count if count else float("nan")
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        lines.append(
            f"| {label} | {page['rows']} | {page['queries']} | {page['p50']:.1f} |"
            f" {page['p95']:.1f} | {ratio:.3f} | {verdict} |"
        )
    bulk_ok = results["bulk_seconds"] <= TARGET_BULK_SECONDS
    lines += [
        "",
        f"Bulk approval of {BULK:,} submissions in one call: **{results['bulk_seconds']:.2f} s**"
        f" (target ≤ {TARGET_BULK_SECONDS:.0f} s: {'met' if bulk_ok else 'NOT met'});"
        f" {results['bulk_approved']} approved, {results['bulk_payments']} payments,"
        f" {results['bulk_allocations']} allocations, {results['bulk_verified']} verified,"
        f" {results['bulk_history']} submission history rows,"
        f" {results['bulk_audit']} `verification.approved` audit events"
        f" ({results['bulk_audit_all']} audit events in all); buyer e-mails:"
        f" {results['bulk_tasks']} tasks enqueued for a worker (up to 50 e-mails each),"
        f" {results['bulk_mails']} sent in-process.",
        f"Machine load average (1 min) before / after: {load_before:.2f} /"
        f" {os.getloadavg()[0]:.2f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    admin_url, bench_url, name = _urls()
    load_before = os.getloadavg()[0]
    _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    os.environ.update(
        DATABASE_URL=bench_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijkl"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # As in production: the request enqueues the buyers' e-mails (Redis broker) and a worker
        # sends them; the queued messages are purged at the end.
        CELERY_TASK_ALWAYS_EAGER="0" if os.environ.get("REDIS_URL") else "1",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    try:
        results = _measure()
    finally:
        from django.db import connections

        connections.close_all()
        _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    text = _report(results, load_before)
    print(text)
    out = ROOT / "benchmarks" / "results" / "dashboard.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if (
        results["bulk_approved"] != min(BULK, results["bulk_payments"])
        or results["bulk_audit"] != results["bulk_approved"]
    ):
        raise SystemExit("bulk approval did not write what it should")


if __name__ == "__main__":
    main()
