"""The buyer's order page under load, next to a trivial Django view in the same run.

    make bench-pages        (runs this through scripts/with-test-services)

gunicorn serves the app on 127.0.0.1 against a throw-away database holding one buyer's order
with its history, a proof and a payment; wrk (a second process) loads the signed-in buyer's
status page, then the liveness view (a plain Django view through the same middleware), with the
same connections and duration. Targets (issue #6): status page >= 35% of the trivial view's
requests per second, p95 <= 50 ms.
"""

import json
import os
import urllib.request
from http.cookies import SimpleCookie

from benchmarks.support import (
    bench_database,
    gunicorn,
    machine_line,
    manage,
    run_django,
    server_env,
    write_result,
    wrk,
)

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
TARGET_RATIO = 0.35
TARGET_P95_MS = 50.0

SEED = r"""
import json
from datetime import timedelta
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from accounts.models import User
from payments.demo import record_demo_payment
from payments.models import GroupOrder, GroupOrderItem, PaymentMethod
from payments.services import LineRequest, submission_create, submission_transition

gom = User.objects.create_user(email="bench-gom@example.test", is_staff=True, full_name="Bench GOM")
method = PaymentMethod(owner=gom, template_code="ph-gcash", display_name="GCash",
                       account_name="SAMPLE GOM", account_number="09171234567")
method.full_clean()
method.save()
order = GroupOrder.objects.create(
    owner=gom, title="Bench order", country="PH", currency="PHP",
    order_deadline=timezone.now() + timedelta(days=30),
    payment_deadline=timezone.now() + timedelta(days=40),
)
order.accepted_methods.set([method])
album = GroupOrderItem.objects.create(group_order=order, name="Album", unit_price_minor=95_000)
card = GroupOrderItem.objects.create(group_order=order, name="Photocard", unit_price_minor=35_000)
buyer = User.objects.create_user(email="bench-buyer@example.test", full_name="Ana Cruz")
submission = submission_create(
    actor=buyer, group_order=order, buyer=buyer, buyer_name="Ana Cruz",
    lines=[LineRequest(album.pk, 2), LineRequest(card.pk, 1)], payment_method=method,
    terms_accepted=True, notify=False,
)
submission_transition(actor=buyer, submission=submission, target="proof_submitted")
record_demo_payment(gom=gom, submission=submission, amount_minor=submission.amount_due_minor)
session = SessionStore()
session[SESSION_KEY] = str(buyer.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = buyer.get_session_auth_hash()
session.create()
print(json.dumps({"code": submission.code, "session": session.session_key}))
"""


def _returning_browser_cookies(base: str, seeded: dict[str, str]) -> str:
    """The cookies a buyer's browser holds after a first visit: the session and CSRF ones."""
    session = f"sessionid={seeded['session']}"
    request = urllib.request.Request(f"{base}/s/{seeded['code']}/", headers={"Cookie": session})
    with urllib.request.urlopen(request, timeout=30) as response:
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
    return f"{session}; csrftoken={jar['csrftoken'].value}"


def main() -> None:
    load_before = os.getloadavg()[0]
    with bench_database("pages") as database_url:
        env = server_env(database_url)
        manage(env, "migrate", "--noinput", "-v", "0")
        seeded = json.loads(run_django(SEED, env))
        with gunicorn(env, workers=WORKERS, threads=THREADS) as port:
            base = f"http://127.0.0.1:{port}"
            cookie = {"Cookie": _returning_browser_cookies(base, seeded)}
            page = wrk(
                "buyer status page GET /s/{code}/",
                f"{base}/s/{seeded['code']}/",
                connections=CONNECTIONS,
                seconds=SECONDS,
                headers=cookie,
            )
            trivial = wrk(
                "trivial Django view GET /api/health/live",
                f"{base}/api/health/live",
                connections=CONNECTIONS,
                seconds=SECONDS,
            )
    ratio = page.rate / trivial.rate if trivial.rate else float("nan")
    meets = ratio >= TARGET_RATIO and page.p95_ms <= TARGET_P95_MS and page.errors == 0
    lines = [
        "# Buyer pages: the order status page next to a trivial view",
        "",
        f"wrk, {CONNECTIONS} connections, {SECONDS:.0f} s each after a 1 s warm-up; gunicorn "
        f"{WORKERS} workers x {THREADS} threads on 127.0.0.1; the buyer is signed in and has"
        " visited once (session and CSRF cookies), as a buyer reloading the page does.",
        "",
        "| what | requests | errors | req/s | p50 ms | p95 ms | ratio to trivial |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in (page, trivial):
        lines.append(
            f"| {result.name} | {result.requests} | {result.errors} | {result.rate:.1f} | "
            f"{result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.rate / trivial.rate:.1%} |"
        )
    lines += [
        "",
        f"Targets: status page >= {TARGET_RATIO:.0%} of the trivial view, p95 <= "
        f"{TARGET_P95_MS:.0f} ms: {'met' if meets else 'NOT met'} (ratio {ratio:.1%}, "
        f"p95 {page.p95_ms:.1f} ms).",
        machine_line(load_before),
    ]
    write_result("pages", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
