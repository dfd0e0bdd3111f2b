"""The smart agent: accuracy over generated receipts, cross-checks, duplicates, fallbacks."""

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from audit.models import AuditEvent
from tests.factories import GroupOrderFactory, PaymentMethodFactory, SubmissionFactory
from tests.verification import receipts
from verification import agent
from verification.agent.extract import Reading
from verification.agent.score import Expectation, assess
from verification.models import PaymentProof
from verification.services import proof_submit

CORPUS_SIZE = 72  # four per provider


def test_generated_corpus_is_deterministic_and_covers_every_provider() -> None:
    first, second = receipts.corpus(18, seed=7), receipts.corpus(18, seed=7)
    assert [r.data for r in first] == [r.data for r in second]
    assert {r.provider for r in first} == set(receipts.PROVIDERS)
    assert len(receipts.PROVIDERS) == 18
    image = Image.open(io.BytesIO(first[0].data))
    assert image.size in {(1080, 2340), (810, 1755), (648, 1404)}


def test_agent_reads_reference_and_amount_right_on_at_least_95_percent() -> None:
    corpus = receipts.corpus(CORPUS_SIZE)
    misses = []
    for receipt in corpus:
        reading = agent.read_proof(receipt.data, receipt.content_type, time_limit_seconds=30)
        if (reading.reference, reading.amount_minor) != (receipt.reference, receipt.amount_minor):
            misses.append(
                (
                    receipt.provider,
                    receipt.reference,
                    reading.reference,
                    receipt.amount_minor,
                    reading.amount_minor,
                )
            )
    accuracy = (len(corpus) - len(misses)) / len(corpus)
    assert Counter(r.provider for r in corpus) == {provider: 4 for provider in receipts.PROVIDERS}
    assert accuracy >= 0.95, misses


def _reading(**overrides: object) -> Reading:
    values: dict[str, object] = {
        "provider": "gcash",
        "provider_evidence": "named+pattern",
        "reference": "7037651006674",
        "reference_evidence": "documented",
        "reference_line_confidence": 0.92,
        "amount_minor": 125_000,
        "amount_evidence": "confirmed",
        "amount_line_confidence": 0.94,
        "currency": "PHP",
        "paid_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        "recipient": "SA***E GO*",
        "recipient_number": "+63 917 *** 4567",
    }
    values.update(overrides)
    return Reading(**values)  # type: ignore[arg-type]


_EXPECTED = Expectation(
    amounts_minor=(125_000,),
    currency="PHP",
    not_before=datetime(2026, 11, 19, tzinfo=UTC),
    account_name="SAMPLE GOM",
    account_number="09171234567",
)


def test_clean_reading_is_suggested_for_approval_with_documented_confidence() -> None:
    assessment = assess(_reading(), _EXPECTED)
    # (0.6 + 0.4 x 0.93) x (0.4 x 1 + 0.4 x 1 + 0.2 x 1) = 0.972
    assert (assessment.confidence, assessment.suggestion, assessment.flags) == (
        0.972,
        "approve",
        [],
    )


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"amount_minor": 120_000}, "amount_mismatch"),
        ({"currency": "MYR"}, "amount_mismatch"),
        ({"paid_at": datetime(2026, 11, 18, tzinfo=UTC)}, "date_before_order"),
        ({"recipient_number": "+63 917 *** 9999"}, "recipient_mismatch"),
        ({"recipient": "JO** CR**", "recipient_number": ""}, "recipient_mismatch"),
        ({"reference": "", "reference_evidence": ""}, "unreadable"),
        ({"amount_minor": None, "amount_evidence": ""}, "unreadable"),
    ],
)
def test_cross_check_failure_raises_its_flag_and_blocks_the_suggestion(
    overrides: dict[str, object], flag: str
) -> None:
    assessment = assess(_reading(**overrides), _EXPECTED)
    assert flag in [entry["code"] for entry in assessment.flags]
    assert assessment.suggestion == "review"


def test_low_confidence_is_never_suggested_for_approval() -> None:
    reading = _reading(reference_evidence="generic", provider_evidence="", amount_evidence="total")
    assessment = assess(reading, _EXPECTED)
    assert assessment.confidence < 0.70
    assert (assessment.suggestion, assessment.flags) == ("review", [])


def _gcash_receipt() -> receipts.Receipt:
    import random

    return receipts.generate("gcash", random.Random(5), damage=False)


def _submit_and_analyse(
    submission: object, data: bytes, django_capture_on_commit_callbacks: object
) -> PaymentProof:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        proof = proof_submit(
            actor=submission.buyer,  # type: ignore[attr-defined]
            submission=submission,  # type: ignore[arg-type]
            upload=io.BytesIO(data),
            original_name="receipt.png",
        )
    proof.refresh_from_db()
    return proof


def _order_and_method(receipt: receipts.Receipt) -> tuple[object, object]:
    # The GOM's GCash account is the one the receipt shows the money went to.
    digits = "".join(ch for ch in receipt.recipient_number if ch.isdigit())
    method = PaymentMethodFactory(
        account_name=receipt.recipient.replace("*", "X"), account_number="0" + digits[2:]
    )
    order = GroupOrderFactory(owner=method.owner)
    return order, method


@pytest.mark.django_db
def test_task_reads_the_proof_after_commit_and_flags_a_reused_reference(
    django_capture_on_commit_callbacks: object,
) -> None:
    receipt = _gcash_receipt()
    order, method = _order_and_method(receipt)
    first = SubmissionFactory(
        group_order=order, payment_method=method, amount_due_minor=receipt.amount_minor
    )
    proof = _submit_and_analyse(first, receipt.data, django_capture_on_commit_callbacks)
    assert (
        proof.analysis_status,
        proof.provider,
        proof.reference,
        proof.amount_minor,
        proof.currency,
    ) == ("done", "gcash", receipt.reference, receipt.amount_minor, "PHP")
    # The factory's order is placed now, after the receipt's printed 2026 date.
    assert proof.flag_codes == ["date_before_order"]
    assert AuditEvent.objects.filter(action="proof.analyzed", object_id=str(proof.pk)).count() == 1

    # The same screenshot on another submission: same file and same reference, with links.
    second = SubmissionFactory(
        group_order=order, payment_method=method, amount_due_minor=receipt.amount_minor
    )
    again = _submit_and_analyse(second, receipt.data, django_capture_on_commit_callbacks)
    duplicate_flags = [flag for flag in again.flags if flag["code"].startswith("duplicate")]
    assert duplicate_flags == [
        {
            "code": "duplicate_file",
            "proof": proof.pk,
            "submission": first.pk,
            "submission_code": first.code,
        },
        {
            "code": "duplicate_reference",
            "proof": proof.pk,
            "submission": first.pk,
            "submission_code": first.code,
        },
    ]
    assert again.duplicate_of_id == proof.pk
    assert again.suggestion == "review"


@pytest.mark.django_db
def test_matching_proof_made_after_the_order_is_suggested_for_approval(
    django_capture_on_commit_callbacks: object,
) -> None:
    receipt = _gcash_receipt()
    order, method = _order_and_method(receipt)
    submission = SubmissionFactory(
        group_order=order, payment_method=method, amount_due_minor=receipt.amount_minor
    )
    # The generated receipt's date is in 2026; the order was placed before it.
    printed = receipt.paid_at.replace(tzinfo=order.timezone)
    type(submission).objects.filter(pk=submission.pk).update(
        created_at=printed - timedelta(hours=1)
    )
    proof = _submit_and_analyse(submission, receipt.data, django_capture_on_commit_callbacks)
    assert (proof.suggestion, proof.flags) == ("approve", [])
    assert float(proof.confidence) >= 0.70


@pytest.mark.django_db
def test_missing_tesseract_leaves_the_proof_unavailable_for_manual_review(
    django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    submission = SubmissionFactory()
    proof = _submit_and_analyse(
        submission, _gcash_receipt().data, django_capture_on_commit_callbacks
    )
    assert proof.analysis_status == "unavailable"
    assert "Tesseract is not installed" in proof.analysis_reason
    assert (proof.suggestion, proof.flag_codes) == ("review", ["unreadable"])
    submission.refresh_from_db()
    assert submission.status == "proof_submitted"


@pytest.mark.django_db
def test_analyze_proof_command_prints_one_json_object_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = _gcash_receipt()
    good = tmp_path / "gcash.png"
    good.write_bytes(receipt.data)
    bad = tmp_path / "evil.png"
    bad.write_bytes(b"MZ\x90\x00" + b"\0" * 100)
    call_command("analyze_proof", str(good), str(bad), "--json")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    keys = {
        "file",
        "provider",
        "reference",
        "amount_minor",
        "currency",
        "paid_at",
        "confidence",
        "suggestion",
        "flags",
        "status",
    }
    assert keys <= set(first)
    assert keys <= set(second)
    assert (first["provider"], first["reference"], first["amount_minor"], first["status"]) == (
        "gcash",
        receipt.reference,
        receipt.amount_minor,
        "done",
    )
    assert first["paid_at"].startswith(receipt.paid_at.strftime("%Y-%m-%dT%H:%M"))
    assert (second["status"], second["code"]) == ("rejected", "unsupported_type")


@pytest.mark.django_db
def test_running_out_of_time_fails_over_to_manual_review(
    django_capture_on_commit_callbacks: object, settings: pytest.FixtureRequest
) -> None:
    settings.PROOF_AGENT_TIME_LIMIT_SECONDS = 0.001  # type: ignore[attr-defined]
    submission = SubmissionFactory()
    proof = _submit_and_analyse(
        submission, _gcash_receipt().data, django_capture_on_commit_callbacks
    )
    assert proof.analysis_status == "failed"
    assert proof.analysis_reason.startswith("Tesseract stopped")
    assert (proof.suggestion, proof.flag_codes) == ("review", ["unreadable"])


@pytest.mark.django_db
def test_pdf_receipt_is_read_from_its_first_page(
    django_capture_on_commit_callbacks: object,
) -> None:
    receipt = _gcash_receipt()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(receipt.data)).convert("RGB").save(buffer, "PDF", resolution=150)
    submission = SubmissionFactory(amount_due_minor=receipt.amount_minor)
    proof = _submit_and_analyse(submission, buffer.getvalue(), django_capture_on_commit_callbacks)
    assert proof.content_type == "application/pdf"
    assert (proof.analysis_status, proof.reference, proof.amount_minor) == (
        "done",
        receipt.reference,
        receipt.amount_minor,
    )


@pytest.mark.django_db
def test_look_alike_receipts_get_only_a_weak_hint_never_a_flag(
    django_capture_on_commit_callbacks: object,
) -> None:
    import random

    rng = random.Random(11)
    first, second = (
        receipts.generate("gcash", rng, damage=False),
        receipts.generate("gcash", rng, damage=False),
    )
    assert first.reference != second.reference
    one = _submit_and_analyse(SubmissionFactory(), first.data, django_capture_on_commit_callbacks)
    two = _submit_and_analyse(SubmissionFactory(), second.data, django_capture_on_commit_callbacks)
    distance = (int(one.perceptual_hash, 16) ^ int(two.perceptual_hash, 16)).bit_count()
    assert [flag for flag in two.flags if flag["code"].startswith("duplicate")] == []
    expected_hints = (
        [{"code": "similar_image", "proof": one.pk, "distance": distance}] if distance <= 4 else []
    )
    assert two.hints == expected_hints
    assert two.duplicate_of_id is None


@pytest.mark.django_db
def test_a_finished_analysis_is_not_redone() -> None:
    from verification.services import proof_analyze

    submission = SubmissionFactory()
    proof = proof_submit(
        actor=submission.buyer,
        submission=submission,
        upload=io.BytesIO(_gcash_receipt().data),
        original_name="r.png",
    )
    first = proof_analyze(proof_id=proof.pk)
    again = proof_analyze(proof_id=proof.pk)
    assert (first.analysis_status, again.analyzed_at) == ("done", first.analyzed_at)
    assert AuditEvent.objects.filter(action="proof.analyzed", object_id=str(proof.pk)).count() == 1


@pytest.mark.parametrize("angle", [-6.5, 6.0])
def test_text_tilted_past_five_degrees_is_straightened_and_read(angle: float) -> None:
    import random

    from verification.agent.ocr import estimate_skew

    receipt = receipts.generate("maybank", random.Random(3), damage=False)
    tilted = Image.open(io.BytesIO(receipt.data)).rotate(angle, expand=True, fillcolor="white")
    grey = __import__("numpy").asarray(tilted.convert("L"))
    assert abs(estimate_skew(grey) + angle) <= 0.5  # the correction undoes the tilt
    buffer = io.BytesIO()
    tilted.save(buffer, "PNG")
    reading = agent.read_proof(buffer.getvalue(), "image/png", time_limit_seconds=30)
    assert (reading.reference, reading.amount_minor) == (receipt.reference, receipt.amount_minor)


@pytest.mark.django_db
def test_transient_database_errors_are_retried_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    from verification import tasks

    calls: list[int] = []

    def flaky(*, proof_id: int) -> PaymentProof:
        calls.append(proof_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return PaymentProof(analysis_status="done")

    # Eager retries re-run in place only when eager errors are not re-raised at once.
    monkeypatch.setitem(tasks.analyze_proof_task.app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(tasks, "proof_analyze", flaky)
    assert tasks.analyze_proof_task.apply(args=[41]).get() == "done"
    assert calls == [41, 41, 41]

    calls.clear()

    def broken(*, proof_id: int) -> PaymentProof:
        calls.append(proof_id)
        raise OperationalError("still down")

    monkeypatch.setattr(tasks, "proof_analyze", broken)
    with pytest.raises(OperationalError):
        tasks.analyze_proof_task.apply(args=[42]).get()
    assert calls == [42, 42, 42, 42]  # the first try and max_retries=3
