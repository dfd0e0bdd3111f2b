"""Money API throughput next to a raw SQL posting on the same PostgreSQL, in one run.

    make bench-money        (runs this through scripts/with-test-services)

What it does:
1. creates a throw-away database beside DATABASE_URL's, migrates it and seeds 16 buyers, each
   with store credit, a large open submission and a paid submission to ask refunds on;
2. starts gunicorn on 127.0.0.1 against that database (stopped at the end, whatever happens);
3. drives POST /api/submissions/{id}/apply-credit and POST /api/payments/{id}/refunds with 16
   concurrent clients, each request with its own Idempotency-Key, and measures requests per
   second and latency;
4. runs the anchor on the same PostgreSQL: 16 clients each doing a raw posting in one
   transaction (SELECT ... FOR UPDATE, UPDATE the balance, INSERT the ledger row);
5. prints the figures side by side with the ratio to the anchor, checks the money invariants
   after the load, and writes the same table to benchmarks/results/money.md.

Targets (issue #3): each API rate >= 10% of the raw rate, p95 <= 100 ms at 16 clients.
"""

import json
import os
import string
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg

from benchmarks.support import (
    bench_database,
    gunicorn,
    machine_line,
    manage,
    psycopg_url,
    run_django,
    server_env,
    write_result,
    wrk,
)

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = 1.5
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
THREADS_PER_WORKER = int(os.environ.get("BENCH_GUNICORN_THREADS", "8"))
TARGET_RATIO = 0.10
TARGET_P95_MS = 100.0


@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


SEED = r"""
import json, sys
import django
django.setup()
from datetime import timedelta
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts.models import User
from payments.models import GroupOrder, Payment, Submission
from payments.money import services as money
from wallet.services import wallet_grant_credit

clients = int(sys.argv[1])
gom = User.objects.create_user(email="bench-gom@example.test", password=None, is_staff=True)
order = GroupOrder.objects.create(
    owner=gom, title="Bench order", country="PH", currency="PHP",
    order_deadline=timezone.now() + timedelta(days=30),
    payment_deadline=timezone.now() + timedelta(days=60),
)
rows = []
for index in range(clients):
    buyer = User.objects.create_user(email=f"bench-buyer{index}@example.test", password=None)
    token = Token.objects.create(user=buyer)
    open_submission = Submission.objects.create(
        group_order=order, buyer=buyer, buyer_name=f"Buyer {index}",
        amount_due_minor=10_000_000, currency="PHP",
    )
    paid_submission = Submission.objects.create(
        group_order=order, buyer=buyer, buyer_name=f"Buyer {index}",
        amount_due_minor=10_000_000, currency="PHP",
    )
    payment = money.payment_record(
        actor=gom, buyer=buyer, group_order=order, currency="PHP", amount_minor=10_000_000,
        method_type="gcash", source=Payment.Source.MANUAL,
        paid_at=timezone.now() - timedelta(hours=1), idempotency_key=f"bench-pay-{index}",
        allocations=[(paid_submission, 10_000_000)],
    )
    wallet_grant_credit(
        actor=gom, buyer=buyer, issuer=gom, currency="PHP", amount_minor=10_000_000,
        kind="goodwill", description="Bench credit", idempotency_key=f"bench-grant-{index}",
    )
    rows.append({"token": token.key, "submission": open_submission.pk, "payment": payment.pk})
print(json.dumps(rows))
"""

CHECK = r"""
import json
import django
django.setup()
from django.db.models import Sum
from payments.models import Payment, Refund
from wallet.models import Wallet
from wallet.services import wallet_sum_check

over = [
    p.pk for p in Payment.objects.all()
    if (Refund.objects.filter(payment=p).exclude(status="rejected")
        .aggregate(t=Sum("amount_minor"))["t"] or 0) > p.amount_minor
]
print(json.dumps({
    "wallet_problems": wallet_sum_check(Wallet.objects.all()),
    "over_refunded_payments": over,
    "payments": Payment.objects.count(),
    "refunds": Refund.objects.count(),
}))
"""


# One buyer per wrk thread; every request a new Idempotency-Key. ($ marks the blanks.)
_WRK_MONEY = string.Template("""
local rows = {$rows}
function per_thread(thread, index) thread:set("row", index) end
function request()
  -- Keys must differ between the warm-up run and the measured one (a replay would be cheap).
  stamp = stamp or (os.time() .. "." .. math.floor(os.clock() * 1e6))
  counter = (counter or 0) + 1
  local r = rows[row]
  local path, body
  if "$kind" == "apply" then
    path = "/api/submissions/" .. r.submission .. "/apply-credit"
    body = '{"amount_minor": 100}'
  else
    path = "/api/payments/" .. r.payment .. "/refunds"
    body = '{"amount_minor": 100, "destination": "wallet", "reason": "item_unavailable"}'
  end
  return wrk.format("POST", path, {
    ["Authorization"] = "Token " .. r.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "$kind-" .. row .. "-" .. stamp .. "-" .. counter,
  }, body)
end
""")


def _api_load(name: str, base: str, clients: list[dict[str, object]], kind: str) -> Result:
    """Drive one endpoint with wrk: one thread and connection per seeded buyer, a fresh
    Idempotency-Key on every request."""
    rows = ", ".join(
        f"{{token={json.dumps(row['token'])}, submission={row['submission']},"
        f" payment={row['payment']}}}"
        for row in clients
    )
    lua = _WRK_MONEY.substitute(rows=rows, kind=kind)
    result = wrk(
        name,
        base + "/",
        connections=len(clients),
        threads=len(clients),
        seconds=SECONDS,
        warmup_seconds=WARMUP_SECONDS,
        lua=lua,
    )
    return Result(
        name, result.requests, result.errors, result.seconds, result.p50_ms, result.p95_ms
    )


def _raw_sql(bench_url: str) -> Result:
    """The anchor: a posting in plain SQL, lock + update + insert, one transaction each."""
    url = psycopg_url(bench_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_posting, bench_account")
        conn.execute("CREATE TABLE bench_account (id int PRIMARY KEY, balance bigint NOT NULL)")
        conn.execute(
            "CREATE TABLE bench_posting (id bigserial PRIMARY KEY, account_id int NOT NULL "
            "REFERENCES bench_account, amount bigint NOT NULL, key text UNIQUE NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO bench_account SELECT g, 1000000000 FROM generate_series(1, %s) g",
            (CLIENTS,),
        )
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS + 1)
    window = [0.0, 0.0]

    def client(index: int) -> None:
        account = index + 1
        with psycopg.connect(url) as conn:
            barrier.wait()
            while True:
                started = time.monotonic()
                if started >= window[1]:
                    break
                with conn.transaction():
                    conn.execute(
                        "SELECT balance FROM bench_account WHERE id = %s FOR UPDATE", (account,)
                    )
                    conn.execute(
                        "UPDATE bench_account SET balance = balance - 1 WHERE id = %s", (account,)
                    )
                    conn.execute(
                        "INSERT INTO bench_posting (account_id, amount, key) VALUES (%s, -1, %s)",
                        (account, uuid.uuid4().hex),
                    )
                if started >= window[0]:
                    latencies[index].append((time.monotonic() - started) * 1000)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    window[0] = time.monotonic() + WARMUP_SECONDS
    window[1] = window[0] + SECONDS
    barrier.wait()
    for thread in threads:
        thread.join()
    flat = [value for per_client in latencies for value in per_client]
    return Result(
        "raw SQL posting (lock + update + insert)",
        len(flat),
        0,
        SECONDS,
        _percentile(flat, 0.50),
        _percentile(flat, 0.95),
    )


def main() -> None:
    load_before = os.getloadavg()[0]
    with bench_database("money") as database_url:
        env = server_env(database_url)
        manage(env, "migrate", "--noinput", "-v", "0")
        clients = json.loads(run_django(SEED, env, str(CLIENTS)))
        with gunicorn(env, workers=WORKERS, threads=THREADS_PER_WORKER) as port:
            base = f"http://127.0.0.1:{port}"
            apply = _api_load(
                "API: POST /api/submissions/{id}/apply-credit", base, clients, "apply"
            )
            refund = _api_load("API: POST /api/payments/{id}/refunds", base, clients, "refund")
        raw = _raw_sql(database_url)
        check = json.loads(run_django(CHECK, env))

    lines = [
        "# Money core: API throughput next to a raw SQL posting",
        "",
        f"{CLIENTS} concurrent clients, {SECONDS:.0f} s measured after {WARMUP_SECONDS:.0f} s"
        f" warm-up. API: wrk (one thread and connection per buyer, a fresh Idempotency-Key per"
        f" request) against gunicorn {WORKERS} workers x {THREADS_PER_WORKER} threads on"
        " 127.0.0.1. Anchor: the same number of psycopg clients doing lock + update + insert"
        " in one transaction each, on the same PostgreSQL.",
        "Every API request moves 1.00 PHP.",
        "",
        "| what | requests | errors | req/s | p50 ms | p95 ms | ratio to raw | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in (apply, refund, raw):
        ratio = result.rate / raw.rate if raw.rate else float("nan")
        verdict = ""
        if result is not raw:
            meets = ratio >= TARGET_RATIO and result.p95_ms <= TARGET_P95_MS and not result.errors
            verdict = "met" if meets else "NOT met"
        lines.append(
            f"| {result.name} | {result.count} | {result.errors} | {result.rate:.1f} | "
            f"{result.p50_ms:.1f} | {result.p95_ms:.1f} | {ratio:.1%} | {verdict} |"
        )
    lines += [
        "",
        f"Targets: ratio >= {TARGET_RATIO:.0%} of the raw rate, p95 <= {TARGET_P95_MS:.0f} ms.",
        f"After the load: {check['payments']} payments, {check['refunds']} refunds; wallet"
        f" problems: {len(check['wallet_problems'])}; over-refunded payments:"
        f" {len(check['over_refunded_payments'])}.",
        machine_line(load_before),
    ]
    write_result("money", "\n".join(lines) + "\n")
    if check["wallet_problems"] or check["over_refunded_payments"]:
        raise SystemExit("money invariants broken under load")


if __name__ == "__main__":
    main()
