"""Exports: rows come from scoped querysets through server-side cursors, never a list in memory.

CSV is streamed row by row (constant memory whatever the row count); XLSX uses openpyxl's
write-only workbook, which writes rows to a temporary file as they come.
"""

import csv
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from payments.reconciliation.reports import (
    ReportFilters,
    _period,
    payments_for_report,
    refunds_for_report,
)
from payments.reconciliation.selectors import (
    discrepancy_list_for_user,
    statement_line_list_for_user,
)

CHUNK = 2000


def decimal_text(amount_minor: int | None) -> str:
    """``125050`` → ``1250.50``; exact, with no float in between."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 100)
    return f"{sign}{major}.{minor:02d}"


def _when(value: Any) -> str:
    return value.isoformat() if value is not None else ""


@dataclass(frozen=True)
class Export:
    kind: str
    title: str
    header: tuple[str, ...]
    rows: Callable[[Any, ReportFilters], Iterator[tuple[Any, ...]]]


def _payments(user: Any, filters: ReportFilters) -> Iterator[tuple[Any, ...]]:
    queryset = payments_for_report(user, filters).order_by("paid_at", "pk")
    for row in queryset.values_list(
        "pk",
        "paid_at",
        "group_order_id",
        "group_order__title",
        "source",
        "method_type",
        "reference",
        "currency",
        "amount_minor",
        "fee_minor",
        "allocated_minor",
        "credited_minor",
    ).iterator(chunk_size=CHUNK):
        pk, paid_at, order, title, source, method, ref, currency, amount, fee, alloc, credit = row
        yield (
            pk,
            _when(paid_at),
            order,
            title,
            source,
            method,
            ref,
            currency,
            decimal_text(amount),
            decimal_text(fee),
            decimal_text(amount - fee),
            decimal_text(alloc),
            decimal_text(credit),
        )


def _refunds(user: Any, filters: ReportFilters) -> Iterator[tuple[Any, ...]]:
    queryset = _period(refunds_for_report(user, filters), "created_at", filters).order_by(
        "created_at", "pk"
    )
    for (
        pk,
        created,
        payment,
        status,
        destination,
        reason,
        currency,
        amount,
        payout,
    ) in queryset.values_list(
        "pk",
        "created_at",
        "payment_id",
        "status",
        "destination",
        "reason",
        "currency",
        "amount_minor",
        "payout_reference",
    ).iterator(chunk_size=CHUNK):
        yield (
            pk,
            _when(created),
            payment,
            status,
            destination,
            reason,
            currency,
            decimal_text(amount),
            payout,
        )


def _discrepancies(user: Any, filters: ReportFilters) -> Iterator[tuple[Any, ...]]:
    queryset = _period(
        discrepancy_list_for_user(user).filter(currency=filters.currency), "created_at", filters
    )
    if filters.group_order is not None:
        queryset = queryset.filter(group_order_id=filters.group_order)
    if filters.gom is not None:
        queryset = queryset.filter(payment_method__owner_id=filters.gom)
    for row in (
        queryset.order_by("created_at", "pk")
        .values_list(
            "pk",
            "created_at",
            "kind",
            "status",
            "payment_method_id",
            "currency",
            "amount_minor",
            "line_id",
            "payment_id",
            "group_order_id",
            "resolution_reason",
            "resolved_at",
        )
        .iterator(chunk_size=CHUNK)
    ):
        pk, created, kind, status, account, currency, amount, line, payment, order, why, when = row
        yield (
            pk,
            _when(created),
            kind,
            status,
            account,
            currency,
            decimal_text(amount),
            line or "",
            payment or "",
            order or "",
            why,
            _when(when),
        )


def _reconciliation(user: Any, filters: ReportFilters) -> Iterator[tuple[Any, ...]]:
    queryset = _period(
        statement_line_list_for_user(user).filter(currency=filters.currency),
        "posted_at",
        filters,
    )
    if filters.gom is not None:
        queryset = queryset.filter(payment_method__owner_id=filters.gom)
    for row in (
        queryset.order_by("posted_at", "pk")
        .values_list(
            "pk",
            "statement_id",
            "payment_method_id",
            "posted_at",
            "direction",
            "currency",
            "amount_minor",
            "reference",
            "payer",
            "match_status",
        )
        .iterator(chunk_size=CHUNK)
    ):
        pk, statement, account, posted, direction, currency, amount, ref, payer, status = row
        yield (
            pk,
            statement,
            account,
            _when(posted),
            direction,
            currency,
            decimal_text(amount),
            ref,
            payer,
            status,
        )


EXPORTS: dict[str, Export] = {
    export.kind: export
    for export in (
        Export(
            "payments",
            "Payments",
            (
                "id",
                "paid_at",
                "group_order_id",
                "group_order",
                "source",
                "method",
                "reference",
                "currency",
                "amount",
                "fee",
                "net",
                "allocated",
                "to_credit",
            ),
            _payments,
        ),
        Export(
            "refunds",
            "Refunds",
            (
                "id",
                "requested_at",
                "payment_id",
                "status",
                "destination",
                "reason",
                "currency",
                "amount",
                "payout_reference",
            ),
            _refunds,
        ),
        Export(
            "discrepancies",
            "Discrepancies",
            (
                "id",
                "found_at",
                "type",
                "status",
                "account_id",
                "currency",
                "amount",
                "line_id",
                "payment_id",
                "group_order_id",
                "resolution",
                "resolved_at",
            ),
            _discrepancies,
        ),
        Export(
            "reconciliation",
            "Reconciliation",
            (
                "line_id",
                "statement_id",
                "account_id",
                "posted_at",
                "direction",
                "currency",
                "amount",
                "reference",
                "payer",
                "match",
            ),
            _reconciliation,
        ),
    )
}


class _Echo:
    """A file-like object whose write returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(export: Export, user: Any, filters: ReportFilters) -> Iterator[str]:
    """Yield CSV text in blocks of rows; memory stays flat whatever the row count."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(export.header)  # BOM: Excel opens UTF-8 names correctly
    block: list[str] = []
    for row in export.rows(user, filters):
        block.append(writer.writerow(row))
        if len(block) >= 500:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def xlsx_file(export: Export, user: Any, filters: ReportFilters) -> Any:
    """Write the export to a temporary XLSX file with a write-only workbook; return it rewound."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(export.title)
    sheet.append(list(export.header))
    for row in export.rows(user, filters):
        sheet.append(list(row))
    # Returned open: the FileResponse that sends it closes it.
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle
