"""Finance admin: upload with preview, resolving, the report, streamed exports; who sees what."""

import csv
import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from audit.models import AuditEvent
from payments.models import PaymentMethod
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import Discrepancy, Statement, StatementLine
from tests.finance.helpers import import_file, paid

GCASH = (
    "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
    "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,1250.00,\n"
    "2026-03-02 9:20 AM,Received GCash from 09170000002,9000111222444,,77.00,\n"
    "2026-03-0X 9:20 AM,Received GCash from 09170000003,9000111222555,,10.00,\n"
)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def money(personas: Any) -> dict[str, Any]:
    """A GCash account per GOM, one verified payment each, the owner's statement reconciled."""
    owner_method = PaymentMethod.objects.create(
        owner=personas.owner,
        template_code="ph-gcash",
        method_type="gcash",
        country="PH",
        display_name="Owner GCash",
    )
    other_method = PaymentMethod.objects.create(
        owner=personas.other_gom,
        template_code="ph-gcash",
        method_type="gcash",
        country="PH",
        display_name="Other GCash",
    )
    mine = paid(
        owner_method,
        125_000,
        reference="9000111222333",
        when="2026-03-02 09:00",
        order=personas.order,
    )
    theirs = paid(
        other_method,
        50_000,
        reference="9000111222999",
        when="2026-03-02 09:00",
        order=personas.other_order,
    )
    import_file(owner_method, GCASH.encode(), preset="gcash", actor=personas.finance)
    reconcile_account(payment_method_id=owner_method.pk)
    return {"owner_method": owner_method, "mine": mine, "theirs": theirs}


PAGES = [
    "/admin/payments/statement/",
    "/admin/payments/statementline/",
    "/admin/payments/discrepancy/",
    "/admin/payments/reconciliationrun/",
    "/admin/payments/reconciliationrun/report/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("who", "status", "sees_owner_rows"),
    [
        ("finance", 200, True),
        ("owner", 200, True),
        ("other_gom", 200, False),
        ("buyer", 302, False),
    ],
)
def test_pages_show_each_persona_only_their_rows(
    personas: Any, money: dict[str, Any], page: str, who: str, status: int, sees_owner_rows: bool
) -> None:
    response = _client(getattr(personas, who)).get(page)

    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        marker = {
            "/admin/payments/statement/": "statement.csv",
            "/admin/payments/statementline/": "9000111222333",
            "/admin/payments/discrepancy/": "Owner GCash",
            "/admin/payments/reconciliationrun/": "Owner GCash",
            # Finance sees both GOMs' money (₱1,750.00), the owner theirs (₱1,250.00).
            "/admin/payments/reconciliationrun/report/": '<td id="gross">₱1,',
        }[page]
        assert (marker in body) is sees_owner_rows


@pytest.mark.django_db
def test_upload_previews_without_writing_then_imports_on_confirm(
    personas: Any, money: dict[str, Any]
) -> None:
    client = _client(personas.finance)
    method = money["owner_method"]
    upload = io.BytesIO((GCASH.replace("9000111222", "8000111222")).encode())
    upload.name = "march.csv"
    statements = Statement.objects.count()

    preview = client.post(
        "/admin/payments/statement/upload/",
        {"payment_method": method.pk, "preset": "gcash", "file": upload},
    )

    assert preview.status_code == 200
    body = preview.content.decode()
    assert '<td id="rows-read">3</td>' in body
    assert '<td id="good-rows">2</td>' in body
    assert "row 4: bad date “2026-03-0X 9:20 AM”" in body
    assert Statement.objects.count() == statements
    token = preview.context["token"]

    confirmed = client.post("/admin/payments/statement/confirm/", {"token": token})

    statement = Statement.objects.latest("pk")
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/admin/payments/statement/{statement.pk}/change/"
    assert (statement.file_name, statement.lines_added, statement.uploaded_by) == (
        "march.csv",
        2,
        personas.finance,
    )
    assert statement.error_rows == [{"row": 4, "reason": "bad date “2026-03-0X 9:20 AM”"}]
    page = client.get(confirmed["Location"]).content.decode()
    assert 'value="100" max="100"' in page
    # The token is spent: the pending file is gone.
    again = client.post("/admin/payments/statement/confirm/", {"token": token})
    assert again.status_code == 404


@pytest.mark.django_db
def test_a_gom_cannot_upload_statements(personas: Any, money: dict[str, Any]) -> None:
    response = _client(personas.owner).get("/admin/payments/statement/upload/")

    assert response.status_code == 403


@pytest.mark.django_db
def test_finance_resolves_a_discrepancy_in_the_admin(personas: Any, money: dict[str, Any]) -> None:
    discrepancy = Discrepancy.objects.get(kind="unmatched_line")
    url = f"/admin/payments/discrepancy/{discrepancy.pk}/resolve/"

    refused = _client(personas.owner).post(url, {"action": "close", "reason": "not mine"})
    done = _client(personas.finance).post(
        url, {"action": "close", "reason": "Buyer's test transfer, returned"}
    )

    assert refused.status_code == 403
    assert done.status_code == 302
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.resolved_by) == ("closed", personas.finance)
    assert (
        AuditEvent.objects.filter(
            action="discrepancy.closed", actor=personas.finance, object_id=str(discrepancy.pk)
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_report_figures_for_finance_and_for_a_gom(personas: Any, money: dict[str, Any]) -> None:
    query = "?currency=PHP&date_from=2026-03-01&date_to=2026-03-31"

    everything = _client(personas.finance).get("/admin/payments/reconciliationrun/report/" + query)
    own = _client(personas.other_gom).get("/admin/payments/reconciliationrun/report/" + query)
    owner = _client(personas.owner).get("/admin/payments/reconciliationrun/report/" + query)

    # GCash: 3.5% + ₱10 per payment.
    assert everything.context["report"].gross_minor == 175_000
    assert everything.context["report"].fees_minor == (4_375 + 1_000) + (1_750 + 1_000)
    assert everything.context["report"].net_minor == 175_000 - 8_125
    assert everything.context["report"].daily[0][1] == 175_000
    assert own.context["report"].gross_minor == 50_000
    assert owner.context["report"].gross_minor == 125_000
    assert '<td id="gross">₱1,250.00</td>' in owner.content.decode()
    assert own.context["report"].fees_minor == 2_750
    # The personas' own submissions (₱1,250.00 each, unpaid) are the outstanding dues.
    assert everything.context["report"].outstanding_minor == 250_000
    assert own.context["report"].outstanding_minor == 125_000


@pytest.mark.django_db
def test_csv_export_streams_scoped_rows_and_is_audited(
    personas: Any, money: dict[str, Any]
) -> None:
    baseline = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()

    response = _client(personas.owner).get(
        "/admin/payments/reconciliationrun/export/payments.csv?currency=PHP&date_from=2026-03-01"
    )

    assert response.status_code == 200
    assert response.streaming is True
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:9] == [
        "id",
        "paid_at",
        "group_order_id",
        "group_order",
        "source",
        "method",
        "reference",
        "currency",
        "amount",
    ]
    assert [row[6:11] for row in rows[1:]] == [
        ["9000111222333", "PHP", "1250.00", "53.75", "1196.25"]
    ]
    event = AuditEvent.objects.get(pk__gt=baseline)
    assert (event.action, event.actor) == ("export.payments", personas.owner)
    assert event.after == {
        "format": "csv",
        "filters": {
            "currency": "PHP",
            "date_from": "2026-03-01",
            "date_to": None,
            "gom": None,
            "group_order": None,
            "method_type": None,
        },
        "rows": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["payments", "refunds", "discrepancies", "reconciliation"])
def test_xlsx_exports_open_in_openpyxl(personas: Any, money: dict[str, Any], kind: str) -> None:
    response = _client(personas.finance).get(
        f"/admin/payments/reconciliationrun/export/{kind}.xlsx?currency=PHP"
    )

    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    expected = {"payments": 2, "refunds": 0, "discrepancies": 1, "reconciliation": 2}[kind]
    assert len(rows) == 1 + expected
    assert AuditEvent.objects.filter(action=f"export.{kind}", actor=personas.finance).count() == 1


@pytest.mark.django_db
def test_exports_are_refused_without_the_right(personas: Any, money: dict[str, Any]) -> None:
    response = _client(personas.buyer).get("/admin/payments/reconciliationrun/export/payments.csv")
    unknown = _client(personas.finance).get("/admin/payments/reconciliationrun/export/secrets.csv")

    assert response.status_code == 302
    assert unknown.status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()
    assert StatementLine.objects.count() == 2


@pytest.mark.django_db
def test_large_upload_imports_in_the_background_and_the_page_follows_it(
    personas: Any, money: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.STATEMENT_IMPORT_INLINE_MAX_ROWS = 1
    client = _client(personas.finance)
    upload = io.BytesIO(GCASH.replace("9000111222", "7000111222").encode())
    upload.name = "big.csv"
    preview = client.post(
        "/admin/payments/statement/upload/",
        {"payment_method": money["owner_method"].pk, "preset": "gcash", "file": upload},
    )
    assert "imports in the background with a progress bar" in preview.content.decode()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        confirmed = client.post(
            "/admin/payments/statement/confirm/", {"token": preview.context["token"]}
        )
    statement = Statement.objects.latest("pk")
    waiting = client.get(confirmed["Location"]).content.decode()
    for callback in callbacks:
        callback()  # the Celery task (eager in tests) runs after the commit
    done = client.get(confirmed["Location"]).content.decode()

    assert statement.status == "queued"
    assert '<meta http-equiv="refresh" content="2">' in waiting
    assert 'value="0" max="100"' in waiting
    statement.refresh_from_db()
    assert (statement.status, statement.lines_added) == ("imported", 2)
    assert '<meta http-equiv="refresh"' not in done
    assert 'value="100" max="100"' in done


@pytest.mark.django_db
def test_report_counts_refunds_and_store_credit_issued_used_and_expired(
    personas: Any, money: dict[str, Any]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from payments.models import Refund
    from payments.money import services as money_services
    from wallet.services import wallet_expire_credits, wallet_grant_credit

    refund = money_services.refund_request(
        actor=personas.owner,
        payment=money["mine"],
        amount_minor=25_000,
        destination=Refund.Destination.WALLET,
        reason="item_unavailable",
        idempotency_key="report-refund",
    )
    money_services.refund_approve(actor=personas.owner, refund=refund)
    wallet_grant_credit(
        actor=personas.owner,
        buyer=money["mine"].buyer,
        issuer=personas.owner,
        currency="PHP",
        amount_minor=10_000,
        kind="goodwill",
        description="Sorry for the wait",
        idempotency_key="report-goodwill",
        expires_at=timezone.now() + timedelta(days=1),
    )
    other_submission = money["mine"].allocations.get().submission
    open_submission = type(other_submission).objects.create(
        group_order=personas.order,
        buyer=money["mine"].buyer,
        buyer_name="Report buyer",
        amount_due_minor=50_000,
        currency="PHP",
    )
    # Soonest-expiring first: 5,000 of the goodwill grant; its other 5,000 expire below.
    money_services.wallet_apply_credit(
        actor=money["mine"].buyer,
        submission=open_submission,
        idempotency_key="report-use",
        amount_minor=5_000,
    )
    wallet_expire_credits(now=timezone.now() + timedelta(days=2))

    finance = _client(personas.finance).get("/admin/payments/reconciliationrun/report/").context
    other = _client(personas.other_gom).get("/admin/payments/reconciliationrun/report/").context

    report = finance["report"]
    assert (report.gross_minor, report.refunds_minor) == (175_000, 25_000)
    assert (
        report.credit_issued_minor,
        report.credit_used_minor,
        report.credit_expired_minor,
    ) == (35_000, 5_000, 5_000)
    # Two personas' submissions (₱1,250.00 each) and the new one less what credit paid.
    assert report.outstanding_minor == 250_000 + 45_000
    assert report.payment_count == 2  # store credit is not money received
    assert finance["money"]["credit_issued"] == "₱350.00"
    assert (
        other["report"].refunds_minor,
        other["report"].credit_issued_minor,
        other["report"].credit_used_minor,
    ) == (0, 0, 0)


@pytest.mark.django_db
def test_another_goms_statement_and_discrepancy_pages_are_404(
    personas: Any, money: dict[str, Any]
) -> None:
    statement = Statement.objects.get()
    discrepancy = Discrepancy.objects.get()
    client = _client(personas.other_gom)

    assert client.get(f"/admin/payments/statement/{statement.pk}/change/").status_code == 404
    assert client.get(f"/admin/payments/discrepancy/{discrepancy.pk}/change/").status_code == 404
    assert client.get(f"/admin/payments/statement/{statement.pk}/history/").status_code == 404
    assert (
        _client(personas.owner)
        .get(f"/admin/payments/discrepancy/{discrepancy.pk}/change/")
        .status_code
        == 200
    )
