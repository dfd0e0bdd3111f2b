"""Two proofs with one reference analysed at the same moment must still see each other.

Real threads on PostgreSQL. The duplicate check is held at a barrier so both analyses query
before either writes; with the per-reference advisory lock the second waits for the first and
flags it; the control run without the lock shows both missing each other.
"""

import contextlib
import io
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection
from PIL import Image

from tests.factories import SubmissionFactory
from verification import services
from verification.agent.extract import Reading
from verification.models import PaymentProof


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 60), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _reading(*args: object, **kwargs: object) -> Reading:
    return Reading(
        provider="gcash",
        provider_evidence="named+pattern",
        reference="7037651006674",
        reference_evidence="documented",
        reference_line_confidence=0.9,
        amount_minor=125_000,
        amount_evidence="labelled",
        amount_line_confidence=0.9,
        currency="PHP",
        paid_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


def _race(monkeypatch: pytest.MonkeyPatch, *, serialize: bool) -> list[list[str]]:
    monkeypatch.setattr(services, "SERIALIZE_DUPLICATE_CHECKS", serialize)
    monkeypatch.setattr(services.agent, "read_proof", _reading)
    # The analyses are started by the threads below, not by the upload's after-commit task.
    monkeypatch.setattr("verification.tasks.analyze_proof_task.delay", lambda *args: None)
    barrier = threading.Barrier(2)
    original = services._duplicates

    def held_duplicates(*args: object, **kwargs: object) -> list[dict[str, object]]:
        found = original(*args, **kwargs)  # type: ignore[arg-type]
        # With the lock the other thread cannot get here until we commit: stop waiting.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return found

    monkeypatch.setattr(services, "_duplicates", held_duplicates)
    proofs = []
    for colour in ("red", "blue"):
        submission = SubmissionFactory()
        proofs.append(
            services.proof_submit(
                actor=submission.buyer,
                submission=submission,
                upload=io.BytesIO(_png(colour)),
                original_name="receipt.png",
            )
        )
    errors: list[BaseException] = []

    def analyse(proof_id: int) -> None:
        try:
            services.proof_analyze(proof_id=proof_id)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=analyse, args=(proof.pk,)) for proof in proofs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return [
        [
            flag["code"]
            for flag in PaymentProof.objects.get(pk=proof.pk).flags
            if flag["code"].startswith("duplicate")
        ]
        for proof in proofs
    ]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_analyses_flag_the_shared_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = _race(monkeypatch, serialize=True)
    assert sorted(flags) == [[], ["duplicate_reference"]]


@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_both_miss_the_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = _race(monkeypatch, serialize=False)
    assert flags == [[], []]
