"""The project as a whole: deploy checks, the demo data, and the test-services script."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command

from payments.models import Submission

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "prod-like-" + "k3y-" * 16,
    "ALLOWED_HOSTS": "pay.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/gomflow_deploy_check",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "AWS_STORAGE_BUCKET_NAME": "gomflow-proofs",
    "AWS_S3_REGION_NAME": "ap-southeast-1",
    # Production brings its own proof key ring (32 zero bytes here; only the shape matters).
    "PROOF_ENCRYPTION_KEYS": "k2026:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}


def test_check_deploy_is_clean_with_production_variables() -> None:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    env.pop("SECURE_SSL_REDIRECT", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(PRODUCTION_ENV)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env["DEBUG"] = "0"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ("accounts", "payments", "wallet", "audit", "guardian", "auth")
    }


@pytest.mark.django_db
def test_seed_demo_twice_yields_the_same_counts() -> None:
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    first = _counts()
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert _counts() == first
    assert first["accounts.User"] == 35  # admin, 2 GOMs, assistant, finance, 30 buyers
    assert first["payments.GroupOrder"] == 4
    assert first["payments.Submission"] == 300
    states = set(Submission.objects.values_list("status", flat=True))
    assert states == set(Submission.Status.values)
    # Paid states carry real payments; refunded ones real refunds to wallet credit.
    assert first["payments.Payment"] == 132
    assert first["payments.Refund"] == 64
    assert first["wallet.CreditGrant"] == 64
    for submission in Submission.objects.filter(status__in=["verified", "refunded"]):
        assert submission.paid_minor == submission.amount_due_minor


def test_with_test_services_starts_and_stops_its_own_servers(tmp_path: Path) -> None:
    # Point the probes at ports where nothing listens, so the script must start its own servers.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GOMFLOW_PG_PROBE="127.0.0.1:1", GOMFLOW_REDIS_PROBE="127.0.0.1:1")
    probe = (
        "import os, psycopg, redis, urllib.parse as u;"
        "d = u.urlsplit(os.environ['DATABASE_URL']);"
        "c = psycopg.connect(host=d.hostname, port=d.port, user='postgres', dbname='postgres');"
        "print('pg', c.execute('select 1').fetchone()[0], d.port);"
        "print('redis', redis.Redis.from_url(os.environ['REDIS_URL']).ping(),"
        " u.urlsplit(os.environ['REDIS_URL']).port)"
    )
    result = subprocess.run(
        [str(ROOT / "scripts" / "with-test-services"), sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Started a throw-away PostgreSQL" in result.stdout
    assert "Started a throw-away Redis" in result.stdout
    lines = dict(
        line.split(" ", 1) for line in result.stdout.splitlines() if line[:3] in ("pg ", "red")
    )
    pg_port = int(lines["pg"].split()[1])
    redis_port = int(lines["redis"].split()[1])
    assert lines["pg"].split()[0] == "1"
    assert lines["redis"].split()[0] == "True"
    # Both servers are gone once the command has finished.
    import socket

    for port in (pg_port, redis_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
