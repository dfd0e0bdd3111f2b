"""Import a provider or bank statement from the command line: preview, or preview and import."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.money import format_money
from payments.models import PaymentMethod
from payments.reconciliation.importing import (
    statement_create,
    statement_import,
    statement_preview,
)
from payments.reconciliation.models import StatementMapping
from payments.reconciliation.parsing import StatementFileError
from payments.reconciliation.presets import PRESETS


class Command(BaseCommand):
    help = "Import a statement file (CSV or XLSX) into a provider account, after a preview."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the statement file")
        parser.add_argument("--preset", default="", help=f"one of: {', '.join(PRESETS)}")
        parser.add_argument("--mapping", default="", help="name of a saved custom mapping")
        parser.add_argument("--account", type=int, required=True, help="payment method id")
        parser.add_argument("--year", type=int, default=None, help="year for DD/MM dates")
        parser.add_argument("--preview", action="store_true", help="only say what would happen")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            method = PaymentMethod.objects.get(pk=options["account"])
        except PaymentMethod.DoesNotExist:
            raise CommandError(f"No payment method with id {options['account']}.") from None
        mapping = None
        if options["mapping"]:
            mapping = StatementMapping.objects.filter(name=options["mapping"]).first()
            if mapping is None:
                raise CommandError(f"No saved mapping named “{options['mapping']}”.")
        data = path.read_bytes()
        currency = "PHP" if method.country == "PH" else "MYR"
        try:
            preview = statement_preview(
                data=data,
                file_name=path.name,
                payment_method=method,
                preset=options["preset"],
                mapping=mapping,
                year=options["year"],
            )
        except StatementFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Rows read: {preview.rows_read}; good: {preview.good_rows}; "
            f"with errors: {preview.error_count}"
        )
        self.stdout.write(
            f"Money in: {format_money(preview.credit_total_minor, currency)}; "
            f"money out: {format_money(preview.debit_total_minor, currency)}; "
            f"dates {preview.first_date or '-'} to {preview.last_date or '-'}"
        )
        for error in preview.errors:
            self.stdout.write(f"  row {error['row']}: {error['reason']}")
        if options["preview"]:
            return
        statement = statement_create(
            actor=None,
            payment_method=method,
            data=data,
            file_name=path.name,
            preset=options["preset"],
            mapping=mapping,
        )
        statement = statement_import(statement_id=statement.pk, year=options["year"])
        if statement.status != statement.Status.IMPORTED:
            raise CommandError(f"Import failed: {statement.failure_reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported: {statement.lines_added} lines added, "
                f"{statement.lines_already_present} already there, "
                f"{len(statement.error_rows)} rows with errors (statement #{statement.pk})"
            )
        )
