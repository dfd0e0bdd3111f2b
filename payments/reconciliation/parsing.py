"""Read a statement file (CSV or XLSX) with a preset into lines and row errors; no database."""

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any
from zoneinfo import ZoneInfo

from payments.method_templates import normalize_reference
from payments.reconciliation.models import DecimalStyle
from payments.reconciliation.presets import AmountRule, Preset

_EXCEL_ESCAPED = re.compile(r'^="(.*)"$', re.DOTALL)


class StatementFileError(ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, no header row); nothing is imported."""


@dataclass(frozen=True)
class ParsedLine:
    row_number: int
    posted_at: datetime
    direction: str
    amount_minor: int
    currency: str
    reference: str
    reference_normalized: str
    payer: str
    description: str
    balance_minor: int | None
    checksum: str


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        # XLSX stores amounts as binary floats; repr gives the shortest exact decimal text.
        return repr(value)
    text = str(value).strip()
    escaped = _EXCEL_ESCAPED.match(text)
    return escaped.group(1).strip() if escaped else text


def read_rows(data: bytes, file_name: str, *, delimiter: str) -> Iterator[list[Any]]:
    """Yield the raw rows of a CSV or XLSX file; XLSX is read in openpyxl's read-only mode."""
    if data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many types for a broken archive
            raise StatementFileError(f"This is not a readable XLSX file ({error}).") from error
        try:
            sheet = workbook.worksheets[0]
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        finally:
            workbook.close()
        return
    if b"\x00" in data[:4096]:
        raise StatementFileError("This is not a CSV or XLSX file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Banks' Windows exports are often cp1252; every byte decodes there.
        text = data.decode("cp1252", errors="replace")
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def parse_amount_text(text: str, style: str, prefixes: tuple[str, ...] = ()) -> int:
    """Read ``1,234.56``, ``1.234,56``, ``RM12.50``, ``(40.00)``, ``125.00+`` as signed minor."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    sign = 1
    if cleaned.startswith("(") and cleaned.endswith(")"):
        sign, cleaned = -1, cleaned[1:-1]
    if cleaned.endswith(("+", "-")):
        sign, cleaned = (-1 if cleaned[-1] == "-" else 1) * sign, cleaned[:-1]
    if cleaned.startswith(("+", "-")):
        sign, cleaned = (-1 if cleaned[0] == "-" else 1) * sign, cleaned[1:]
    for prefix in prefixes:
        if cleaned.upper().startswith(prefix.upper()):
            cleaned = cleaned[len(prefix) :]
    if cleaned.startswith("-"):
        sign, cleaned = -sign, cleaned[1:]
    if style == DecimalStyle.MINOR_UNITS:
        if not cleaned.isdigit():
            raise ValueError(text)
        return sign * int(cleaned)
    if style == DecimalStyle.COMMA:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    scaled = value.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(text)
    return sign * int(scaled)


class StatementParser:
    """Turn the rows of one file into ``ParsedLine`` and ``RowError`` items, in file order."""

    def __init__(
        self, preset: Preset, *, account_key: str, currency: str, timezone: str, year: int
    ) -> None:
        self.preset = preset
        self.account_key = account_key
        self.currency = currency
        self.zone = ZoneInfo(timezone)
        self.year = year
        self.columns: dict[str, int] = {}
        self.previous_balance: int | None = None
        self._seen: dict[str, int] = {}

    def _find_header(self, row: list[str]) -> bool:
        lowered = [cell.strip().lower() for cell in row]
        if not all(name.lower() in lowered for name in self.preset.header):
            return False
        self.columns = {}
        for index, name in enumerate(lowered):
            # A repeated header name keeps its first column (BDO's blank spacers repeat "").
            self.columns.setdefault(name, index)
        return True

    def _get(self, row: list[str], column: str) -> str:
        if not column:
            return ""
        index = self.columns.get(column.lower())
        if index is None or index >= len(row):
            return ""
        return row[index]

    def _parse_date(self, text: str) -> tuple[datetime, str]:
        rest = ""
        for fmt in self.preset.date_formats:
            candidate = text
            if self.preset.date_leads_text:
                width = len(datetime(2000, 12, 31, 23, 59).strftime(fmt))
                candidate, rest = text[:width], text[width:].strip()
            try:
                parsed = datetime.strptime(candidate.strip(), fmt)
            except ValueError:
                continue
            if "%Y" not in fmt and "%y" not in fmt:
                parsed = parsed.replace(year=self.year)
            return parsed.replace(tzinfo=self.zone), rest
        raise ValueError(text)

    def parse(self, rows: Iterator[list[Any]]) -> Iterator[ParsedLine | RowError]:
        header_found = False
        pending: ParsedLine | None = None
        extra: list[str] = []
        for row_number, raw in enumerate(rows, start=1):
            row = [_cell_text(value) for value in raw]
            if not any(row):
                continue
            if not header_found:
                header_found = self._find_header(row)
                continue
            continued = self._continuation_text(row) if pending is not None else ""
            if continued:
                # Statements print a transfer's counterparty and recipient reference on the
                # lines under it (Maybank); they belong to the line above.
                extra.append(continued)
                continue
            if pending is not None:
                yield self._seal(pending, extra)
                pending, extra = None, []
            item = self._parse_row(row_number, row)
            if isinstance(item, ParsedLine):
                pending = item
            elif item is not None:
                yield item
        if pending is not None:
            yield self._seal(pending, extra)
        if not header_found:
            raise StatementFileError(
                "No header row found: expected columns "
                + ", ".join(f"“{name}”" for name in self.preset.header)
                + f" for the preset “{self.preset.name}”."
            )

    def _parse_row(self, row_number: int, row: list[str]) -> ParsedLine | RowError | None:
        preset = self.preset
        first = next((cell for cell in row if cell), "")
        if any(first.upper().startswith(marker.upper()) for marker in preset.footer_markers):
            return None
        if any(marker.lower() in cell.lower() for marker in preset.opening_markers for cell in row):
            balance_text = self._get(row, preset.balance_column)
            if balance_text:
                try:
                    self.previous_balance = parse_amount_text(
                        balance_text, preset.decimal_style, preset.amount_prefixes
                    )
                except ValueError:
                    return RowError(row_number, f"bad opening balance “{balance_text}”")
            return None
        date_text = self._get(row, preset.date_column)
        if not date_text:
            return RowError(row_number, "missing date")
        try:
            posted_at, date_rest = self._parse_date(date_text)
        except ValueError:
            return RowError(row_number, f"bad date “{date_text}”")
        if preset.status_column:
            status = self._get(row, preset.status_column)
            if status.strip().lower() not in preset.status_ok:
                return RowError(row_number, f"not a completed transaction (status “{status}”)")
        balance: int | None = None
        balance_text = self._get(row, preset.balance_column)
        if balance_text:
            try:
                balance = parse_amount_text(
                    balance_text, preset.decimal_style, preset.amount_prefixes
                )
            except ValueError:
                return RowError(row_number, f"bad balance “{balance_text}”")
        try:
            signed = self._signed_amount(row, balance)
        except ValueError as error:
            if balance is not None:
                # The next row's sign is read against this row's balance, good row or not.
                self.previous_balance = balance
            return RowError(row_number, str(error))
        if balance is not None:
            self.previous_balance = balance
        if signed == 0:
            return RowError(row_number, "amount is zero")
        direction = "credit" if signed > 0 else "debit"
        if preset.fixed_direction:
            direction = preset.fixed_direction
        currency = self.currency
        if preset.currency_column:
            cell = self._get(row, preset.currency_column).strip().upper()
            if cell:
                if cell not in ("PHP", "MYR"):
                    return RowError(row_number, f"unsupported currency “{cell}”")
                currency = cell
        reference = self._get(row, preset.reference_column)
        payer = date_rest if preset.date_leads_text else self._get(row, preset.payer_column)
        pattern = preset.compiled_reference
        if pattern is not None and reference:
            found = pattern.search(reference.upper())
            if found:
                payer = (reference[: found.start()] + reference[found.end() :]).strip()
                reference = found.group(1)
        description = self._get(row, preset.description_column)
        normalized = normalize_reference(reference)
        # Unsealed: continuation rows may still add to the text; _seal sets the checksum.
        return ParsedLine(
            row_number=row_number,
            posted_at=posted_at,
            direction=direction,
            amount_minor=abs(signed),
            currency=currency,
            reference=reference[:120],
            reference_normalized=normalized[:120],
            payer=payer,
            description=description,
            balance_minor=balance,
            checksum="",
        )

    def _seal(self, line: ParsedLine, extra: list[str]) -> ParsedLine:
        payer, description = line.payer, line.description
        if extra:
            joined = " ".join(extra)
            description = f"{description} {joined}".strip()
            if self.preset.payer_column == self.preset.description_column:
                payer = description
        payer = payer.rstrip("* ").strip()
        base = "|".join(
            [
                self.account_key,
                line.posted_at.isoformat(),
                line.direction,
                str(line.amount_minor),
                line.currency,
                line.reference_normalized,
                payer.upper(),
                description.upper(),
                "" if line.balance_minor is None else str(line.balance_minor),
            ]
        )
        # Two identical rows in one file are two transactions (two buyers paying the same
        # amount the same day with no reference): the n-th copy gets its own checksum, and an
        # overlapping file that holds the same copies produces the same checksums again.
        occurrence = self._seen.get(base, 0)
        self._seen[base] = occurrence + 1
        checksum = hashlib.sha256(f"{base}|{occurrence}".encode()).hexdigest()
        return replace(line, payer=payer[:200], description=description[:300], checksum=checksum)

    def _continuation_text(self, row: list[str]) -> str:
        """The text of a row that only continues the previous line's description, or ""."""
        preset = self.preset
        if not preset.continuation_rows or self._get(row, preset.date_column):
            return ""
        money_columns = (
            preset.amount_column,
            preset.debit_column,
            preset.credit_column,
            preset.balance_column,
        )
        if any(self._get(row, column) for column in money_columns if column):
            return ""
        return " ".join(cell for cell in row if cell).strip()

    def _amount(self, text: str, label: str) -> int:
        try:
            return parse_amount_text(text, self.preset.decimal_style, self.preset.amount_prefixes)
        except ValueError:
            raise ValueError(f"bad {label} “{text}”") from None

    def _signed_amount(self, row: list[str], balance: int | None) -> int:
        preset = self.preset
        rule = preset.amount_rule
        if rule == AmountRule.DEBIT_CREDIT:
            debit = self._get(row, preset.debit_column)
            credit = self._get(row, preset.credit_column)
            if debit and credit:
                raise ValueError("both debit and credit filled")
            if not debit and not credit:
                raise ValueError("missing amount")
            return (
                abs(self._amount(credit, "amount"))
                if credit
                else -abs(self._amount(debit, "amount"))
            )
        text = self._get(row, preset.amount_column)
        if not text:
            raise ValueError("missing amount")
        value = self._amount(text, "amount")
        if rule == AmountRule.SIGNED:
            return value
        if rule == AmountRule.INDICATOR:
            indicator = self._get(row, preset.indicator_column).strip().lower()
            if not indicator:
                raise ValueError("missing credit/debit indicator")
            return abs(value) if indicator in preset.credit_indicators else -abs(value)
        # BALANCE_DELTA: the only trustworthy sign is how the running balance moved.
        if balance is None:
            raise ValueError("missing balance")
        if self.previous_balance is None:
            raise ValueError("no earlier balance: cannot tell money in from money out")
        delta = balance - self.previous_balance
        if abs(delta) != abs(value):
            raise ValueError(
                f"amount {text} does not match the balance change "
                f"({self.previous_balance / 100:.2f} → {balance / 100:.2f})"
            )
        return delta


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_bytes(stream: IO[bytes]) -> bytes:
    return stream.read()
