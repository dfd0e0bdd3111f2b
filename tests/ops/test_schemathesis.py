"""Schemathesis against the OpenAPI schema on a live server: no input makes the API answer 5xx."""

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from payments.demo import record_demo_payment
from tests.factories import GroupOrderFactory, StaffFactory, SubmissionFactory, UserFactory
from wallet.services import wallet_grant_credit

ROOT = Path(__file__).resolve().parents[2]


def _schemathesis(base: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).with_name("st")
    return subprocess.run(
        [
            str(binary),
            "run",
            f"{base}/api/schema/",
            "--url",
            base,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--seed",
            "20261123",
            "--generation-deterministic",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "20",
            "--header",
            f"Authorization: Token {token}",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", ["buyer", "gom"])
def test_no_generated_request_causes_a_server_error(
    live_server: object, persona: str, tmp_path: Path, settings: object
) -> None:
    # Generated requests come fast from one address; the throttle is not what is under test.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    settings.API_FAILURE_ALLOWANCE = 1_000_000
    # The live queue count is a stream that stays open for minutes; a second is enough here.
    settings.VERIFICATION_STREAM_MAX_SECONDS = 1
    gom = StaffFactory()
    buyer = UserFactory()
    order = GroupOrderFactory(owner=gom)
    submission = SubmissionFactory(group_order=order, buyer=buyer)
    record_demo_payment(gom=gom, submission=submission, amount_minor=submission.amount_due_minor)
    SubmissionFactory(group_order=order, buyer=buyer)
    wallet_grant_credit(
        actor=gom,
        buyer=buyer,
        issuer=gom,
        currency="PHP",
        amount_minor=50_000,
        kind="goodwill",
        description="Fuzzing credit",
        idempotency_key="fuzz-grant",
    )
    user = buyer if persona == "buyer" else gom
    token = Token.objects.create(user=user).key

    result = _schemathesis(live_server.url, token, tmp_path)  # type: ignore[attr-defined]

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Server error" not in output
