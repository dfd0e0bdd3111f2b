"""Turn OCR lines into facts: provider, reference, amount, currency, date and recipient.

Receipts print many numbers; the rules that pick the right ones:
- the reference is the value after the provider's reference label (never after "Recipient
  Reference", "InstaPay Ref. No." and the like), matched with the template's pattern;
- the amount is the one labelled "Amount"/"Amount sent"; a fee and a "total" that adds the fee
  are never taken for it (total - fee is used when no plain amount is printed); balances and
  promotions are ignored, and a number without decimals (phone, account) is never an amount;
- the date is the first payment date printed, not a "Printed Date/Time".
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from verification.agent.ocr import OcrLine, OcrResult
from verification.agent.patterns import FuzzyPattern, compile_fuzzy, doubled_glyph_variants
from verification.agent.providers import (
    BY_SLUG,
    FOREIGN_REFERENCE_PREFIXES,
    PROVIDERS,
    Provider,
)

_ZONES = {"PH": ZoneInfo("Asia/Manila"), "MY": ZoneInfo("Asia/Kuala_Lumpur")}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_GENERIC_LABELS = (
    "reference no",
    "reference number",
    "reference id",
    "ref no",
    "ref. no",
    "transaction id",
    "transaction no",
)

_AMOUNT = re.compile(
    r"(?<![A-Za-z0-9])(?P<sign>-)?\s?(?P<currency>₱|PHP|Php|PhP|RM|MYR|P|£|\$|€)?\s?-?\s?"
    r"(?P<whole>\d{1,3}(?:[,.]\d{3})+|\d{1,7})[.,](?P<cents>\d{2})(?![\d%])"
)
_CURRENCY_OF = {
    "RM": "MYR",
    "MYR": "MYR",
    "₱": "PHP",
    "PHP": "PHP",
    "Php": "PHP",
    "PhP": "PHP",
    "P": "PHP",
}

_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<meridiem>[AaPp]\.?[Mm]\.?)?"
_DATE_PATTERNS = (
    # Feb 5, 2026 7:23 PM · Sep 9, 2025, 01:44 pm · Sep 20, 2026 | 09:53 PM
    re.compile(
        r"(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2}),?\s*(?P<year>20\d{2})[,|\s]*(?:"
        + _TIME
        + ")?"
    ),
    # 31 Oct 2025 12:09:52 · 06 Aug 2026, 17:03:08 · 15-Jul-2026
    re.compile(
        r"(?<!\d)(?P<day>\d{1,2})[\s-]+(?P<month>[A-Za-z]{3})[a-z]*[\s-]+(?P<year>20\d{2}),?\s*(?:"
        + _TIME
        + ")?"
    ),
    # 2026-03-02 09:15 AM
    re.compile(r"(?P<year>20\d{2})-(?P<month>\d{2})-(?P<day>\d{2})[T\s]*(?:" + _TIME + ")?"),
    # 18/09/2026 14:12:57 · 07-08-2026 (day first in Malaysia, month first in the Philippines)
    re.compile(
        r"(?<!\d)(?P<first>\d{1,2})[/-](?P<second_part>\d{1,2})[/-](?P<year>20\d{2})\s*(?:"
        + _TIME
        + ")?"
    ),
)
_RECIPIENT_LABELS = (
    "transfer to",
    "send to",
    "sent to",
    "recipient name",
    "beneficiary name",
    "receiver",
    "recipient",
    "merchant name",
    "account name",
    "name",
    "to",
)
_MASKED_NAME = re.compile(r"^[A-Z][A-Z*.\-]*\*[A-Z*.\-]*(?:\s+[A-Z*][A-Z*.\-]*)*$")
_PHONE = re.compile(
    r"(?:\+63|\+60)[\s-]?\d[\d\s*X-]{7,13}[\dX*]"
    r"|(?<![\d-])0[19]\d{1,2}[\s-]?[\d*X]{3}[\s-]?[\d*X]{4}(?![\d-])"
)
# Lines that name another bank (where the money went) must not decide who issued the receipt.
_DESTINATION_LINE = re.compile(r"recipient bank|receiving bank|to bank|beneficiary bank")


@dataclass
class Reading:
    """What the agent read on one proof, with the evidence behind each fact."""

    provider: str = ""
    provider_evidence: str = ""  # "named", "named+pattern", "pattern", "hint" or ""
    reference: str = ""
    reference_evidence: str = ""  # "documented", "generic" or ""
    reference_line_confidence: float = 0.0
    amount_minor: int | None = None
    amount_evidence: str = ""  # "confirmed", "labelled", "derived", "display", "total" or ""
    amount_line_confidence: float = 0.0
    currency: str = ""
    paid_at: datetime | None = None
    recipient: str = ""
    recipient_number: str = ""
    raw_text: str = ""
    ocr_confidence: float = 0.0


def _plain(text: str) -> str:
    return text.lower().replace("\u2019", "'").replace("`", "'").replace("\u2018", "'")


def _provider_scores(lines: list[OcrLine]) -> dict[str, float]:
    scores: dict[str, float] = {}
    top = max(3, len(lines) // 4)
    for index, line in enumerate(lines):
        text = _plain(line.text)
        if _DESTINATION_LINE.search(text):
            continue
        for provider in PROVIDERS:
            for keyword in provider.keywords:
                if re.search(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", text):
                    weight = 3.0 if index < top else 1.0
                    # DuitNow is the rail under most Malaysian transfers: named, but rarely the app.
                    if provider.slug == "duitnow":
                        weight *= 0.3
                    scores[provider.slug] = scores.get(provider.slug, 0.0) + weight
                    break
    return scores


def _currency(lines: list[OcrLine]) -> str:
    text = "\n".join(line.text for line in lines)
    myr = len(re.findall(r"(?<![A-Za-z])(?:RM|MYR)(?![A-Za-z])", text))
    php = len(re.findall(r"₱|(?<![A-Za-z])(?:PHP|Php|PhP)(?![A-Za-z])|(?<![A-Za-z])P(?=\d)", text))
    if myr > php:
        return "MYR"
    if php > myr:
        return "PHP"
    return ""


def _label_position(text: str, label: str) -> int:
    position = text.find(label)
    if position < 0:
        return -1
    before = text[max(0, position - 24) : position]
    if any(prefix in before for prefix in FOREIGN_REFERENCE_PREFIXES):
        return -1
    return position


def _find_reference(
    lines: list[OcrLine],
    labels: tuple[str, ...],
    pattern: str,
    *,
    documented: bool,
    hex_alphabet: bool,
    reread: Callable[[OcrLine], str] | None,
) -> tuple[str, float] | None:
    fuzzy = compile_fuzzy(pattern, hex_alphabet=hex_alphabet)
    for index, line in enumerate(lines):
        text = _plain(line.text)
        for label in labels:
            position = _label_position(text, label)
            if position < 0:
                continue
            after = line.text[position + len(label) :].lstrip(" .:#-=;|")
            following = lines[index + 1] if index + 1 < len(lines) else None
            # The value follows its label on the same line, or under a label that stands alone.
            candidates: list[tuple[str, OcrLine]] = []
            if after.strip():
                candidates.append((after, line))
            elif following is not None:
                candidates.append((following.text, following))
            for value, source in candidates:
                found = _match_value(fuzzy, value, documented=documented)
                if found:
                    return found, source.confidence
            if documented and after.strip() and following is not None:
                # A long id that wrapped onto the next line ("Ref No. 0033 807" / "526547").
                found = _match_value(fuzzy, f"{after} {following.text}", documented=True)
                if found:
                    return found, min(line.confidence, following.confidence)
            if reread is not None:
                # The label is there but its value does not fit: read the value again, bigger.
                for value, source in candidates:
                    count = len(value.split())
                    words = source.words[-count:] if count else []
                    if not words:
                        continue
                    found = _match_value(fuzzy, reread(OcrLine(words=words)), documented=documented)
                    if found:
                        return found, source.confidence * 0.9
            break
    return None


def _match_value(fuzzy: FuzzyPattern, value: str, *, documented: bool) -> str | None:
    value = value.lstrip(" .:#-=;|")
    if documented:
        compact = re.sub("[\\s.:;,'`\u2018\u2019]", "", value)
        found = fuzzy.find(compact)
        for variant in doubled_glyph_variants(compact) if found is None else []:
            found = fuzzy.find(variant)
            if found:
                break
        return found
    # An undocumented shape is one printed token: joining tokens would swallow the date that
    # often follows on the same line.
    tokens = value.split()
    compact = tokens[0].strip(".:;,") if tokens else ""
    return compact if fuzzy.strict.fullmatch(compact) else None


def _reference(
    lines: list[OcrLine],
    order: list[Provider],
    currency: str,
    reread: Callable[[OcrLine], str] | None,
) -> tuple[Provider | None, str, str, float]:
    for provider in order:
        pattern = provider.reference_pattern(currency)
        documented = provider.reference_documented(currency)
        found = _find_reference(
            lines,
            provider.reference_labels,
            pattern,
            documented=documented,
            hex_alphabet=provider.hex_reference,
            reread=reread,
        )
        if found:
            return provider, found[0], "documented" if documented else "generic", found[1]
    return None, "", "", 0.0


def _amount_value(match: re.Match[str]) -> int:
    whole = re.sub(r"[,.]", "", match.group("whole"))
    return int(whole) * 100 + int(match.group("cents"))


def _amount_kind(label: str) -> str:
    if re.search(r"balance|available|cashback|limit|reward|points|earn|get ", label):
        return "ignore"
    if re.search(r"fee|charge", label):
        return "fee"
    if re.search(r"total|debit amount", label):
        return "total"
    if re.search(r"amount|sent|paid|transfer", label):
        return "amount"
    return "display" if not re.search(r"[a-z]{3,}", label) else "ignore"


def _amount(lines: list[OcrLine]) -> tuple[int | None, str, str, float]:
    found: dict[str, list[tuple[int, str, float]]] = {}
    for index, line in enumerate(lines):
        text = re.sub(r"(?<=\d)[Oo](?=[\d,.])|(?<=[\d,.])[Oo](?=\d)", "0", line.text)
        for match in _AMOUNT.finditer(text):
            label = _plain(text[: match.start()]).strip(" :-|")
            if (
                not label
                and match.group("currency") is None
                and index > 0
                and not _AMOUNT.search(lines[index - 1].text)
            ):
                # A bare number under its label ("Amount" / "320.00").
                label = _plain(lines[index - 1].text)
            if match.group("currency") is None and not label:
                continue
            kind = _amount_kind(label)
            currency = _CURRENCY_OF.get(match.group("currency") or "", "")
            found.setdefault(kind, []).append((_amount_value(match), currency, line.confidence))
    amounts, totals, fees, displays = (
        found.get(kind, []) for kind in ("amount", "total", "fee", "display")
    )
    if amounts:
        value, currency, confidence = amounts[0]
        seconds = [entry[0] for entry in displays + totals]
        evidence = "confirmed" if value in seconds else "labelled"
        return value, evidence, currency, confidence
    if totals and fees:
        value = totals[0][0] - fees[0][0]
        if value > 0:
            return value, "derived", totals[0][1], min(totals[0][2], fees[0][2])
    if displays:
        return displays[0][0], "display", displays[0][1], displays[0][2]
    if totals:
        return totals[0][0], "total", totals[0][1], totals[0][2]
    return None, "", "", 0.0


def _date(lines: list[OcrLine], country: str) -> datetime | None:
    zone = _ZONES.get(country, _ZONES["PH"])
    for line in lines:
        text = line.text
        if "printed" in _plain(text):
            continue
        for pattern in _DATE_PATTERNS:
            match = pattern.search(text)
            if not match:
                continue
            parts = match.groupdict()
            try:
                if "first" in parts and parts.get("first"):
                    first, second = int(parts["first"]), int(parts["second_part"])
                    day_first = country != "PH" or first > 12
                    day, month = (first, second) if day_first else (second, first)
                elif parts["month"].isdigit():
                    day, month = int(parts["day"]), int(parts["month"])
                else:
                    month = _MONTHS.get(parts["month"][:3].lower(), 0)
                    day = int(parts["day"])
                hour = int(parts.get("hour") or 0)
                minute = int(parts.get("minute") or 0)
                second_value = int(parts.get("second") or 0)
                meridiem = (parts.get("meridiem") or "").lower().replace(".", "")
                if meridiem == "pm" and hour < 12:
                    hour += 12
                elif meridiem == "am" and hour == 12:
                    hour = 0
                return datetime(
                    int(parts["year"]), month, day, hour, minute, second_value, tzinfo=zone
                )
            except (ValueError, KeyError):
                continue
    return None


def _recipient(lines: list[OcrLine]) -> tuple[str, str]:
    name = number = ""
    for line in lines:
        text = line.text.strip()
        plain = _plain(text)
        if not number:
            phone = _PHONE.search(text)
            if phone:
                number = phone.group(0)
        if name:
            continue
        for label in _RECIPIENT_LABELS:
            if plain.startswith(label + " ") or plain.startswith(label + ":"):
                value = text[len(label) :].strip(" :")
                if value and not re.search(r"\d{4}", value):
                    name = value
                break
        else:
            if _MASKED_NAME.match(text):
                name = text
    return name[:120], number[:40]


def extract(
    result: OcrResult,
    *,
    hint_provider: str = "",
    reread: Callable[[OcrLine], str] | None = None,
) -> Reading:
    """Read every fact the agent knows how to find from an OCR result."""
    lines = result.lines
    reading = Reading(raw_text=result.text, ocr_confidence=result.mean_confidence)
    scores = _provider_scores(lines)
    named = sorted(scores, key=lambda slug: -scores[slug])
    currency = _currency(lines)
    hinted = BY_SLUG.get(hint_provider)
    # Try the providers named on the receipt first, then the hinted one, then every provider
    # whose pattern is documented (a reference shape identifies its provider), generic last.
    order: list[Provider] = [BY_SLUG[slug] for slug in named]
    if hinted and hinted not in order:
        order.append(hinted)
    country = {"PHP": "PH", "MYR": "MY"}.get(currency, "")
    rest = [p for p in PROVIDERS if p not in order and (not country or p.country in ("", country))]
    order += [p for p in rest if p.reference_documented(currency)]
    order += [p for p in rest if not p.reference_documented(currency)]
    provider, reference, reference_evidence, reference_confidence = _reference(
        lines, order, currency, reread
    )
    if provider is None and named:
        provider = BY_SLUG[named[0]]
    if provider is not None:
        is_named = provider.slug in scores
        if is_named and reference_evidence == "documented":
            reading.provider_evidence = "named+pattern"
        elif is_named:
            reading.provider_evidence = "named"
        elif reference_evidence == "documented":
            reading.provider_evidence = "pattern"
        elif hinted is provider:
            reading.provider_evidence = "hint"
        else:
            # A generic reference found under a generic label names no provider.
            provider = None
    reading.provider = provider.slug if provider else ""
    reading.reference = reference
    reading.reference_evidence = reference_evidence
    reading.reference_line_confidence = reference_confidence
    amount, amount_evidence, amount_currency, amount_confidence = _amount(lines)
    reading.amount_minor = amount
    reading.amount_evidence = amount_evidence
    reading.amount_line_confidence = amount_confidence
    provider_country = provider.country if provider else ""
    reading.currency = (
        amount_currency or currency or {"PH": "PHP", "MY": "MYR"}.get(provider_country, "")
    )
    country = provider_country or {"PHP": "PH", "MYR": "MY"}.get(reading.currency, "")
    reading.paid_at = _date(lines, country)
    reading.recipient, reading.recipient_number = _recipient(lines)
    return reading
