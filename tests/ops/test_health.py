import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.roles import FINANCE_GROUP, GOM_GROUP
from payments.models import Submission
from tests.factories import StaffFactory, SubmissionFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_overall_health_is_healthy_with_database_and_redis(client: Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "HEALTHY"
    assert set(body["checks"]) == {"database", "redis", "payments"}
    assert body["checks"]["database"]["details"] == {"vendor": "postgresql"}
    assert body["checks"]["redis"]["details"] == {"configured": True}
    assert body["checks"]["payments"]["details"] == {}  # figures are for operators only
    assert body["checks"]["database"]["response_time_ms"] >= 0


@pytest.mark.django_db
def test_payments_health_counts_backlog_and_degrades_above_five_stuck(client: Client) -> None:
    old = timezone.now() - timedelta(hours=30)
    for _ in range(6):
        submission = SubmissionFactory(status=Submission.Status.PROOF_SUBMITTED)
        Submission.objects.filter(pk=submission.pk).update(updated_at=old)
    SubmissionFactory(status=Submission.Status.PROOF_SUBMITTED)
    client.force_login(StaffFactory(is_superuser=True))

    response = client.get("/api/health/payments")

    assert response.status_code == 200
    payments = response.json()["checks"]["payments"]
    assert payments["status"] == "DEGRADED"
    assert payments["details"]["queue_backlog"] == 7
    assert payments["details"]["stuck"] == 6
    assert payments["reason"] == "6 proofs waiting longer than 24 h (alert above 5)"
    assert response.json()["status"] == "DEGRADED"


@pytest.mark.django_db
def test_payments_health_flags_a_low_success_rate(client: Client) -> None:
    now = timezone.now()
    SubmissionFactory(status=Submission.Status.VERIFIED, verified_at=now)
    for _ in range(2):
        SubmissionFactory(status=Submission.Status.REJECTED, verified_at=now)
    client.force_login(StaffFactory(is_superuser=True))
    payments = client.get("/api/health/payments").json()["checks"]["payments"]
    assert payments["details"]["success_rate"] == 0.3333
    assert payments["details"]["rejection_rate"] == 0.6667
    assert payments["reason"] == "verification success rate 33% is below 90%"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 403), ("buyer", 403), ("gom", 403), ("finance", 200), ("superuser", 200)],
)
def test_payments_health_is_for_superusers_and_finance(
    client: Client, who: str, status: int
) -> None:
    # A GOM is staff too, but these figures are every GOM's together.
    if who == "buyer":
        client.force_login(UserFactory())
    elif who in ("gom", "finance"):
        staff = StaffFactory()
        staff.groups.add(Group.objects.get(name=GOM_GROUP if who == "gom" else FINANCE_GROUP))
        client.force_login(staff)
    elif who == "superuser":
        client.force_login(StaffFactory(is_superuser=True))
    assert client.get("/api/health/payments").status_code == status


@pytest.mark.django_db
def test_payments_health_accepts_the_health_token(client: Client, settings: object) -> None:
    settings.HEALTH_TOKEN = "s3cret-token-for-monitor"
    ok = client.get("/api/health/payments", HTTP_AUTHORIZATION="Bearer s3cret-token-for-monitor")
    wrong = client.get("/api/health/payments", HTTP_AUTHORIZATION="Bearer nope")
    assert (ok.status_code, wrong.status_code) == (200, 403)


def _health_with(env_changes: dict[str, str], path: str) -> tuple[int, dict]:
    env = {**os.environ, **env_changes}
    script = (
        "import django, json, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "django.setup(); from django.test import Client;"
        f"r = Client().get({path!r}); print(r.status_code); print(json.dumps(r.json()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-2:]
    return int(status), json.loads(body)


def test_unreachable_database_answers_503_with_the_reason() -> None:
    status, body = _health_with(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"}, "/api/health"
    )
    assert status == 503
    assert body["status"] == "UNHEALTHY"
    database = body["checks"]["database"]
    assert database["status"] == "UNHEALTHY"
    assert database["reason"].startswith("OperationalError: connection failed")
    assert "payments" not in body["checks"]


@pytest.mark.django_db
def test_unreachable_redis_degrades_overall_and_fails_its_own_check() -> None:
    from django.db import connection

    db = connection.settings_dict
    env = {
        "REDIS_URL": "redis://127.0.0.1:1/0",
        # The child process must reach the test database, which the fixture created.
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    status, body = _health_with(env, "/api/health/redis")
    assert (status, body["status"]) == (503, "UNHEALTHY")
    assert body["checks"]["redis"]["reason"].startswith("ConnectionError")
    status, body = _health_with(env, "/api/health")
    assert (status, body["status"]) == (200, "DEGRADED")
    assert body["checks"]["redis"]["status"] == "UNHEALTHY"
