"""Confidence, cross-checks against the submission, flags and the suggestion.

Confidence (0..1) = quality x evidence.

evidence = 0.40 x reference + 0.40 x amount + 0.20 x provider, each part 0..1:
  reference  1.0  found after its label and matching the provider's documented pattern
             0.75 found after its label, but the provider's shape is undocumented (generic)
             0    not found
  amount     1.0  labelled "Amount" and printed a second time (headline or fee-less total)
             0.9  labelled "Amount"
             0.8  derived as total - fee
             0.7  the headline amount only
             0.5  a "total" only (it may include a fee)
             0    not found
  provider   1.0  named on the receipt and its pattern matched the reference
             0.7  named only, or recognised by the reference's shape only
             0.5  only the submission's chosen method says so
             0    unknown
quality = 0.6 + 0.4 x mean Tesseract confidence of the lines the reference and amount came
from: OCR doubt lowers the score but cannot alone sink a well-evidenced reading.

The agent suggests "approve" only when confidence ≥ PROOF_AGENT_APPROVE_THRESHOLD (0.70), the
amount equals what is due (or the deposit / next installment) and no flag is raised; otherwise
"review". It never decides: a human approves or rejects.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from verification.agent.extract import Reading

_REFERENCE_SCORE = {"documented": 1.0, "generic": 0.75}
_AMOUNT_SCORE = {"confirmed": 1.0, "labelled": 0.9, "derived": 0.8, "display": 0.7, "total": 0.5}
_PROVIDER_SCORE = {"named+pattern": 1.0, "named": 0.7, "pattern": 0.7, "hint": 0.5}
# Receipts print minutes; a payment made in the minute the order was placed is not "before" it.
_DATE_TOLERANCE = timedelta(minutes=2)


@dataclass(frozen=True)
class Expectation:
    """What the submission says the proof should show."""

    amounts_minor: tuple[int, ...]
    currency: str
    not_before: datetime | None
    account_name: str = ""
    account_number: str = ""


@dataclass
class Assessment:
    confidence: float
    suggestion: str
    flags: list[dict[str, object]] = field(default_factory=list)


def confidence_of(reading: Reading) -> float:
    evidence = (
        0.40 * _REFERENCE_SCORE.get(reading.reference_evidence, 0.0)
        + 0.40 * _AMOUNT_SCORE.get(reading.amount_evidence, 0.0)
        + 0.20 * _PROVIDER_SCORE.get(reading.provider_evidence, 0.0)
    )
    sources = [
        value
        for value, present in (
            (reading.reference_line_confidence, bool(reading.reference)),
            (reading.amount_line_confidence, reading.amount_minor is not None),
        )
        if present
    ]
    ocr = sum(sources) / len(sources) if sources else reading.ocr_confidence
    return round(max(0.0, min(1.0, (0.6 + 0.4 * ocr) * evidence)), 3)


def _visible_digits(text: str) -> str:
    return re.sub(r"\D", "", text.split("*")[-1].split("X")[-1])


def recipient_matches(reading: Reading, account_name: str, account_number: str) -> bool | None:
    """True/False when the printed recipient can be compared with the account, None otherwise."""
    verdicts: list[bool] = []
    visible = _visible_digits(reading.recipient_number)
    account_digits = re.sub(r"\D", "", account_number)
    if len(visible) >= 3 and account_digits:
        verdicts.append(account_digits.endswith(visible[-4:]))
    printed = [token for token in re.split(r"\s+", reading.recipient.upper()) if token]
    real = [token for token in re.split(r"\s+", account_name.upper()) if token]
    if printed and real and len(printed) <= len(real) + 1:
        for masked, actual in zip(printed, real, strict=False):
            prefix = re.match(r"[A-Z]*", masked).group(0)  # type: ignore[union-attr]
            if len(prefix) >= 2:
                verdicts.append(actual.startswith(prefix))
                break
    if not verdicts:
        return None
    return all(verdicts)


def assess(
    reading: Reading,
    expectation: Expectation | None,
    *,
    duplicates: list[dict[str, object]] | None = None,
    threshold: float = 0.70,
) -> Assessment:
    """Score a reading, cross-check it against the submission and say what a human should do."""
    confidence = confidence_of(reading)
    flags: list[dict[str, object]] = list(duplicates or [])
    if not reading.reference or reading.amount_minor is None:
        flags.append({"code": "unreadable"})
    amount_matches = False
    if expectation is not None:
        if reading.amount_minor is not None:
            amount_matches = (
                reading.amount_minor in expectation.amounts_minor
                and reading.currency in ("", expectation.currency)
            )
            if not amount_matches:
                flags.append(
                    {
                        "code": "amount_mismatch",
                        "read_minor": reading.amount_minor,
                        "expected_minor": list(expectation.amounts_minor),
                    }
                )
        if (
            reading.paid_at is not None
            and expectation.not_before is not None
            and reading.paid_at < expectation.not_before - _DATE_TOLERANCE
        ):
            flags.append({"code": "date_before_order", "read": reading.paid_at.isoformat()})
        if expectation.account_name or expectation.account_number:
            verdict = recipient_matches(
                reading, expectation.account_name, expectation.account_number
            )
            if verdict is False:
                flags.append(
                    {
                        "code": "recipient_mismatch",
                        "read": reading.recipient_number or reading.recipient,
                    }
                )
    suggestion = "approve" if confidence >= threshold and amount_matches and not flags else "review"
    return Assessment(confidence=confidence, suggestion=suggestion, flags=flags)
