"""Statement import: preview writes nothing, checksums stop duplicates, bad rows are reported."""

import io
from datetime import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from audit.models import AuditEvent
from payments.reconciliation.importing import statement_create, statement_preview
from payments.reconciliation.models import Statement, StatementLine, StatementMapping
from payments.reconciliation.parsing import StatementFileError
from tests.finance.helpers import account, import_file

HEADER = "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"


def gcash_rows(start: int, count: int) -> str:
    """``count`` GCash credits, one per minute, references start..start+count-1."""
    rows = []
    for number in range(start, start + count):
        minute = number % 60
        hour = 8 + (number // 60) % 12
        day = 1 + (number // 720) % 28
        rows.append(
            f"2026-03-{day:02d} {hour:02d}:{minute:02d},Received GCash from 0917{number:07d},"
            f"{9000000000000 + number},,{100 + number}.00,\n"
        )
    return "".join(rows)


@pytest.mark.django_db
def test_preview_reads_everything_and_writes_nothing() -> None:
    method = account("ph-gcash")
    text = (
        HEADER
        + gcash_rows(0, 3)
        + "2026-03-02 9:00 AM,Bad amount,9000000000100,,1O.00,\n"
        + ",No date,9000000000101,,10.00,\n"
        + "2026-03-02 9:00 AM,No reference or amount,,,,\n"
    )
    audit_before = AuditEvent.objects.count()

    preview = statement_preview(
        data=text.encode(), file_name="history.csv", payment_method=method, preset="gcash"
    )

    assert (preview.rows_read, preview.good_rows, preview.error_count) == (6, 3, 3)
    assert preview.credit_total_minor == 10_000 + 10_100 + 10_200
    assert preview.debit_total_minor == 0
    assert preview.errors == [
        {"row": 5, "reason": "bad amount “1O.00”"},
        {"row": 6, "reason": "missing date"},
        {"row": 7, "reason": "missing amount"},
    ]
    assert (preview.first_date, preview.last_date) == ("2026-03-01", "2026-03-01")
    assert Statement.objects.count() == 0
    assert StatementLine.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.django_db
def test_bad_rows_are_reported_by_row_number_and_good_rows_imported() -> None:
    method = account("ph-gcash")
    text = HEADER + gcash_rows(0, 2) + "31/02/2026,Bad date,9000000000100,,10.00,\n"
    text += gcash_rows(2, 1)

    statement = import_file(method, text.encode(), preset="gcash")

    assert statement.status == Statement.Status.IMPORTED
    assert (statement.rows_read, statement.lines_added) == (4, 3)
    assert statement.error_rows == [{"row": 4, "reason": "bad date “31/02/2026”"}]
    assert statement.total_minor == 30_300
    assert list(
        StatementLine.objects.filter(statement=statement)
        .order_by("row_number")
        .values_list("row_number", "amount_minor")
    ) == [(2, 10_000), (3, 10_100), (5, 10_200)]


@pytest.mark.django_db
def test_reimport_and_overlap_add_nothing_and_say_how_many_were_there() -> None:
    method = account("ph-gcash")
    first = import_file(method, (HEADER + gcash_rows(0, 10)).encode(), preset="gcash")
    again = import_file(method, (HEADER + gcash_rows(0, 10)).encode(), preset="gcash")
    overlap = import_file(method, (HEADER + gcash_rows(5, 10)).encode(), preset="gcash")

    assert (first.lines_added, first.lines_already_present) == (10, 0)
    assert (again.lines_added, again.lines_already_present) == (0, 10)
    assert (overlap.lines_added, overlap.lines_already_present) == (5, 5)
    assert StatementLine.objects.filter(payment_method=method).count() == 15
    assert AuditEvent.objects.filter(
        action="statement.imported", object_id=str(overlap.pk)
    ).get().after == {
        "rows_read": 10,
        "lines_added": 5,
        "lines_already_present": 5,
        "rows_with_errors": 0,
        "total_minor": sum(100_00 + n * 100 for n in range(5, 15)),
    }


@pytest.mark.django_db
def test_identical_rows_in_one_file_are_two_transactions_but_not_on_reimport() -> None:
    method = account("ph-bpi")
    text = (
        "Date,Description,Debit,Credit,Balance\n"
        "03/02/2026,INSTAPAY TRANSFER,,500.00,\n"
        "03/02/2026,INSTAPAY TRANSFER,,500.00,\n"
    )
    first = import_file(method, text.encode(), preset="bpi")
    second = import_file(method, text.encode(), preset="bpi")

    assert (first.lines_added, second.lines_added, second.lines_already_present) == (2, 0, 2)


@pytest.mark.django_db
def test_same_file_on_another_account_is_imported_there() -> None:
    text = (HEADER + gcash_rows(0, 3)).encode()
    first = import_file(account("ph-gcash"), text, preset="gcash")
    second = import_file(account("ph-gcash"), text, preset="gcash")

    assert (first.lines_added, second.lines_added) == (3, 3)


@pytest.mark.django_db
def test_xlsx_is_read_with_real_dates_and_numbers() -> None:
    method = account("ph-gcash")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["GCash Transaction History"])
    sheet.append(["Date and Time", "Description", "Reference No.", "Debit", "Credit", "Balance"])
    sheet.append([datetime(2026, 3, 2, 9, 14), "Received", "9000111222333", None, 1250.5, 3750])
    sheet.append([datetime(2026, 3, 2, 11, 40), "Transfer", "9000111222334", 480, None, 3270])
    sheet.append(["not a date", "Received", "9000111222335", None, 10, 3280])
    buffer = io.BytesIO()
    workbook.save(buffer)

    statement = import_file(method, buffer.getvalue(), preset="gcash", name="history.xlsx")

    assert statement.error_rows == [{"row": 5, "reason": "bad date “not a date”"}]
    assert list(
        StatementLine.objects.filter(statement=statement)
        .order_by("row_number")
        .values_list("direction", "amount_minor", "reference_normalized")
    ) == [("credit", 125_050, "9000111222333"), ("debit", 48_000, "9000111222334")]


@pytest.mark.django_db
def test_file_without_a_header_fails_with_a_clear_message_and_no_lines() -> None:
    method = account("ph-gcash")
    text = "Some,Other,Export\n2026-03-02,1,2\n"

    with pytest.raises(StatementFileError, match="No header row found"):
        statement_preview(
            data=text.encode(), file_name="x.csv", payment_method=method, preset="gcash"
        )
    statement = import_file(method, text.encode(), preset="gcash")

    assert statement.status == Statement.Status.FAILED
    assert statement.failure_reason.startswith("No header row found: expected columns “Date and")
    assert StatementLine.objects.count() == 0


@pytest.mark.django_db
def test_unknown_preset_is_refused_before_anything_is_stored() -> None:
    method = account("ph-gcash")
    with pytest.raises(StatementFileError, match="Unknown preset “gkash”"):
        statement_create(
            actor=method.owner, payment_method=method, data=b"x", file_name="a", preset="gkash"
        )
    assert Statement.objects.count() == 0


@pytest.mark.django_db
def test_custom_mapping_with_comma_decimals_and_day_first_dates() -> None:
    method = account("my-maybank")
    mapping = StatementMapping.objects.create(
        name="Co-op bank",
        delimiter=";",
        date_column="Tarikh",
        date_format="%d.%m.%Y",
        amount_column="Jumlah",
        reference_column="Rujukan",
        payer_column="Nama",
        decimal_style="comma",
    )
    text = "Tarikh;Nama;Rujukan;Jumlah\n02.03.2026;SITI;R-1;1.250,50\n03.03.2026;ALI;R-2;-40,00\n"

    statement = import_file(method, text.encode(), mapping=mapping)

    assert list(
        StatementLine.objects.filter(statement=statement)
        .order_by("row_number")
        .values_list("direction", "amount_minor", "reference_normalized", "payer", "currency")
    ) == [("credit", 125_050, "R-1", "SITI", "MYR"), ("debit", 4_000, "R-2", "ALI", "MYR")]


@pytest.mark.django_db
def test_large_file_imports_in_the_celery_task_with_progress(settings: object) -> None:
    settings.STATEMENT_IMPORT_BATCH_SIZE = 100  # type: ignore[attr-defined]
    method = account("ph-gcash")
    statement = statement_create(
        actor=method.owner,
        payment_method=method,
        data=(HEADER + gcash_rows(0, 450)).encode(),
        file_name="big.csv",
        preset="gcash",
    )
    from payments.reconciliation.tasks import import_statement_task

    assert import_statement_task.delay(statement.pk).get() == "imported"

    statement.refresh_from_db()
    assert (statement.progress_done, statement.progress_total) == (450, 450)
    assert statement.progress_percent == 100
    assert statement.lines_added == 450


@pytest.mark.django_db
def test_import_statement_command_previews_then_imports(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    method = account("ph-gcash")
    path = tmp_path / "history.csv"  # type: ignore[operator]
    path.write_text(HEADER + gcash_rows(0, 4) + "bad,row,,,,\n")

    call_command("import_statement", str(path), preset="gcash", account=method.pk, preview=True)
    preview_out = capsys.readouterr().out
    assert Statement.objects.count() == 0
    call_command("import_statement", str(path), preset="gcash", account=method.pk)
    import_out = capsys.readouterr().out

    assert "Rows read: 5; good: 4; with errors: 1" in preview_out
    assert "row 6: bad date “bad”" in preview_out
    assert "Imported: 4 lines added, 0 already there, 1 rows with errors" in import_out
    assert StatementLine.objects.filter(payment_method=method).count() == 4
    with pytest.raises(CommandError, match="Unknown preset"):
        call_command("import_statement", str(path), preset="nope", account=method.pk)
