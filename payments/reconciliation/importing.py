"""Statement import: preview (nothing written), create, and the batched, idempotent import."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from audit.services import audit_record
from payments.models import COUNTRY_TIMEZONE, PaymentMethod
from payments.reconciliation.models import (
    Statement,
    StatementLine,
    StatementMapping,
    statement_storage,
)
from payments.reconciliation.parsing import (
    ParsedLine,
    RowError,
    StatementFileError,
    StatementParser,
    file_sha256,
    read_rows,
)
from payments.reconciliation.presets import PRESETS, Preset, preset_from_mapping

# Rows shown in a preview's error list; the statement's report keeps all of them.
PREVIEW_ERROR_LIMIT = 200


@dataclass
class Preview:
    rows_read: int = 0
    good_rows: int = 0
    credit_total_minor: int = 0
    debit_total_minor: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    first_date: str = ""
    last_date: str = ""

    @property
    def net_total_minor(self) -> int:
        return self.credit_total_minor - self.debit_total_minor


def resolve_preset(*, preset: str = "", mapping: StatementMapping | None = None) -> Preset:
    if mapping is not None:
        return preset_from_mapping(mapping)
    try:
        return PRESETS[preset]
    except KeyError:
        raise StatementFileError(
            f"Unknown preset “{preset}”; known: {', '.join(sorted(PRESETS))}."
        ) from None


def _parser(
    preset: Preset, payment_method: PaymentMethod, currency: str, year: int | None
) -> StatementParser:
    return StatementParser(
        preset,
        account_key=str(payment_method.pk),
        currency=currency,
        timezone=COUNTRY_TIMEZONE[payment_method.country],
        year=year or timezone.now().year,
    )


def _currency_of(payment_method: PaymentMethod) -> str:
    return "PHP" if payment_method.country == "PH" else "MYR"


def iter_parsed(
    data: bytes,
    file_name: str,
    *,
    preset: Preset,
    payment_method: PaymentMethod,
    year: int | None = None,
) -> Iterator[ParsedLine | RowError]:
    parser = _parser(preset, payment_method, _currency_of(payment_method), year)
    return parser.parse(read_rows(data, file_name, delimiter=preset.delimiter))


def statement_preview(
    *,
    data: bytes,
    file_name: str,
    payment_method: PaymentMethod,
    preset: str = "",
    mapping: StatementMapping | None = None,
    year: int | None = None,
) -> Preview:
    """Read a file and say what an import would do; write nothing. Raises StatementFileError."""
    chosen = resolve_preset(preset=preset, mapping=mapping)
    preview = Preview()
    for item in iter_parsed(
        data, file_name, preset=chosen, payment_method=payment_method, year=year
    ):
        preview.rows_read += 1
        if isinstance(item, RowError):
            preview.error_count += 1
            if len(preview.errors) < PREVIEW_ERROR_LIMIT:
                preview.errors.append({"row": item.row, "reason": item.reason})
            continue
        preview.good_rows += 1
        if item.direction == StatementLine.Direction.CREDIT:
            preview.credit_total_minor += item.amount_minor
        else:
            preview.debit_total_minor += item.amount_minor
        day = item.posted_at.date().isoformat()
        preview.first_date = min(preview.first_date or day, day)
        preview.last_date = max(preview.last_date or day, day)
    return preview


def statement_create(
    *,
    actor: Any,
    payment_method: PaymentMethod,
    data: bytes,
    file_name: str,
    preset: str = "",
    mapping: StatementMapping | None = None,
) -> Statement:
    """Store a confirmed upload as a queued statement (the file is kept for the import task)."""
    resolve_preset(preset=preset, mapping=mapping)
    if not data:
        raise StatementFileError("The file is empty.")
    with transaction.atomic():
        statement = Statement(
            payment_method=payment_method,
            preset="" if mapping is not None else preset,
            mapping=mapping,
            currency=_currency_of(payment_method),
            file_name=file_name[:200],
            file_sha256=file_sha256(data),
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        statement.file.save(file_name[-80:] or "statement.csv", ContentFile(data), save=False)
        statement.save()
        audit_record(
            actor=actor,
            action="statement.uploaded",
            target=statement,
            after={
                "file_name": statement.file_name,
                "sha256": statement.file_sha256,
                "preset": statement.preset or f"mapping:{statement.mapping_id}",
                "payment_method": payment_method.pk,
            },
        )
    return statement


def _statement_preset(statement: Statement) -> Preset:
    return resolve_preset(preset=statement.preset, mapping=statement.mapping)


def _insert_batch(statement: Statement, batch: list[ParsedLine]) -> None:
    """Insert the lines whose checksum the account does not have yet; safe to repeat."""
    rows = [
        StatementLine(
            statement=statement,
            payment_method_id=statement.payment_method_id,
            row_number=item.row_number,
            posted_at=item.posted_at,
            direction=item.direction,
            amount_minor=item.amount_minor,
            currency=item.currency,
            reference=item.reference,
            reference_normalized=item.reference_normalized,
            payer=item.payer,
            description=item.description,
            balance_minor=item.balance_minor,
            checksum=item.checksum,
        )
        for item in batch
    ]
    # ON CONFLICT DO NOTHING on (account, checksum): re-imports, overlaps, a second worker and a
    # retried batch all leave one row per transaction.
    StatementLine.objects.bulk_create(rows, ignore_conflicts=True)


def statement_import(*, statement_id: int, year: int | None = None) -> Statement:
    """Import a queued statement's lines in batches, reporting progress; repeat-safe.

    Each batch commits on its own so the admin's progress bar moves and a killed worker loses
    at most one batch; running the import again adds only what is missing (checksums), and the
    report counts lines of this statement as added and all others as already there.
    """
    with transaction.atomic():
        statement = (
            Statement.objects.select_for_update(of=("self",))
            .select_related("payment_method", "mapping")
            .get(pk=statement_id)
        )
        if statement.status == Statement.Status.IMPORTED:
            return statement
        statement.status = Statement.Status.IMPORTING
        statement.save(update_fields=["status"])
    data = statement.file.open("rb").read()
    statement.file.close()
    preset = _statement_preset(statement)
    batch_size = settings.STATEMENT_IMPORT_BATCH_SIZE
    try:
        # A first pass counts rows for the progress bar; parsing is cheap next to inserting.
        total = sum(
            1
            for _ in iter_parsed(
                data,
                statement.file_name,
                preset=preset,
                payment_method=statement.payment_method,
                year=year,
            )
        )
    except StatementFileError as error:
        return _fail(statement, str(error))
    Statement.objects.filter(pk=statement.pk).update(progress_total=total, progress_done=0)
    errors: list[dict[str, Any]] = []
    good = 0
    total_minor = 0
    batch: list[ParsedLine] = []
    done = 0
    for item in iter_parsed(
        data, statement.file_name, preset=preset, payment_method=statement.payment_method, year=year
    ):
        done += 1
        if isinstance(item, RowError):
            errors.append({"row": item.row, "reason": item.reason})
            continue
        good += 1
        total_minor += item.amount_minor if item.direction == "credit" else -item.amount_minor
        batch.append(item)
        if len(batch) >= batch_size:
            with transaction.atomic():
                _insert_batch(statement, batch)
                Statement.objects.filter(pk=statement.pk).update(progress_done=done)
            batch = []
            if settings.STATEMENT_IMPORT_BATCH_PAUSE_SECONDS:
                time.sleep(settings.STATEMENT_IMPORT_BATCH_PAUSE_SECONDS)
    with transaction.atomic():
        if batch:
            _insert_batch(statement, batch)
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        mine = StatementLine.objects.filter(statement=locked)
        added = mine.count()
        period = mine.aggregate(start=Min("posted_at"), end=Max("posted_at"))
        locked.status = Statement.Status.IMPORTED
        locked.rows_read = done
        locked.lines_added = added
        locked.lines_already_present = good - added
        locked.error_rows = errors
        locked.total_minor = total_minor
        locked.progress_done = done
        locked.progress_total = done
        locked.period_start = period["start"]
        locked.period_end = period["end"]
        locked.finished_at = timezone.now()
        locked.save()
        audit_record(
            actor=None,
            action="statement.imported",
            target=locked,
            after={
                "rows_read": done,
                "lines_added": added,
                "lines_already_present": good - added,
                "rows_with_errors": len(errors),
                "total_minor": total_minor,
            },
        )
    return locked


def _fail(statement: Statement, reason: str) -> Statement:
    with transaction.atomic():
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        locked.status = Statement.Status.FAILED
        locked.failure_reason = reason
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "failure_reason", "finished_at"])
        audit_record(actor=None, action="statement.failed", target=locked, after={"reason": reason})
    return locked


def statement_import_later(*, statement: Statement) -> None:
    """Queue the import after the statement's row is committed."""
    from payments.reconciliation.tasks import import_statement_task

    transaction.on_commit(lambda: import_statement_task.delay(statement.pk))


PENDING_PREFIX = "statements/pending/"


def statement_previews_purge(*, older_than: timedelta = timedelta(hours=24)) -> int:
    """Delete uploads previewed but never confirmed; return how many files went."""
    try:
        _, names = statement_storage().listdir(PENDING_PREFIX)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    for name in names:
        path = PENDING_PREFIX + name
        if statement_storage().get_modified_time(path) < cutoff:
            statement_storage().delete(path)
            removed += 1
    return removed
