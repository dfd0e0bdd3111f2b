"""Every discrepancy type is found once (re-runs add nothing), and each is resolved, audited."""

import pytest

from audit.models import AuditEvent
from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import (
    Discrepancy,
    ReconciliationRun,
    StatementLine,
    StatementMapping,
    StatementMatch,
)
from payments.reconciliation.services import (
    ReconciliationError,
    discrepancy_close,
    discrepancy_link,
    suggestion_confirm,
)
from tests.factories import StaffFactory
from tests.finance.helpers import account, import_file, paid

STATEMENT = (
    "Date,Reference,Amount,Currency,Payer\n"
    "2026-03-02 09:00,REF-A,1000.00,PHP,ANA REYES\n"
    "2026-03-02 10:00,REF-B,500.00,PHP,BEN CRUZ\n"
    "2026-03-03 09:00,REF-C,300.00,MYR,CARLA DIAZ\n"
    "2026-03-03 11:00,REF-D,200.00,PHP,DINO ESPINO\n"
    "2026-03-03 11:05,REF-D,200.00,PHP,DINO ESPINO\n"
    "2026-03-04 09:00,REF-E,77.00,PHP,EMMA FLORES\n"
    "2026-03-10 09:00,FEE,-1.00,PHP,BANK\n"
)


@pytest.fixture
def scenario(db: None, settings: object) -> dict[str, object]:
    settings.RECONCILIATION_DATE_WINDOW_DAYS = 1  # type: ignore[attr-defined]
    method = account("ph-gcash")
    mapping = StatementMapping.objects.create(
        name="Test bank",
        date_column="Date",
        date_format="%Y-%m-%d %H:%M",
        amount_column="Amount",
        reference_column="Reference",
        payer_column="Payer",
        currency_column="Currency",
    )
    payments = {
        "A": paid(method, 100_000, reference="REF-A", when="2026-03-02 08:00"),
        "B": paid(method, 45_000, reference="REF-B", when="2026-03-02 08:00"),
        "C": paid(method, 30_000, reference="REF-C", when="2026-03-03 08:00"),
        "D": paid(method, 20_000, reference="REF-D", when="2026-03-03 08:00"),
        # Approved, but the money never arrived: the fraud case.
        "M": paid(method, 60_000, reference="REF-M", when="2026-03-05 08:00"),
    }
    statement = import_file(method, STATEMENT.encode(), mapping=mapping)
    return {"method": method, "payments": payments, "statement": statement}


def _open(method: object) -> dict[str, Discrepancy]:
    return {
        d.kind: d
        for d in Discrepancy.objects.filter(payment_method=method, status="open").order_by("pk")
    }


def test_every_discrepancy_type_is_found_once_even_when_run_again(
    scenario: dict[str, object],
) -> None:
    method, payments = scenario["method"], scenario["payments"]

    first = reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]
    second = reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]

    expected = {
        "amount_mismatch": 1,
        "currency_mismatch": 1,
        "duplicate_line": 1,
        "missing_from_statement": 1,
        "unmatched_line": 1,
    }
    assert first.discrepancies == expected  # type: ignore[union-attr]
    assert second.discrepancies == expected  # type: ignore[union-attr]
    assert (first.matched, second.matched) == (2, 0)  # type: ignore[union-attr]
    assert Discrepancy.objects.filter(payment_method=method).count() == 5
    assert StatementMatch.objects.count() == 2
    found = _open(method)
    assert found["amount_mismatch"].amount_minor == 5_000
    assert found["amount_mismatch"].payment == payments["B"]  # type: ignore[index]
    assert found["currency_mismatch"].details == {
        "reference": "REF-C",
        "line_currencies": ["MYR"],
        "payment_currencies": ["PHP"],
    }
    assert found["missing_from_statement"].payment == payments["M"]  # type: ignore[index]
    assert found["missing_from_statement"].amount_minor == 60_000
    assert found["unmatched_line"].line.reference == "REF-E"
    duplicate = found["duplicate_line"]
    assert duplicate.line.posted_at.minute == 5
    assert StatementLine.objects.get(pk=duplicate.details["original_line"]).match_status == (
        "matched"
    )
    assert ReconciliationRun.objects.filter(status="done").count() == 2


def test_each_discrepancy_is_resolved_and_audited(scenario: dict[str, object]) -> None:
    method, payments = scenario["method"], scenario["payments"]
    finance = StaffFactory()
    reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]
    found = _open(method)
    baseline = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()

    discrepancy_link(
        actor=finance,
        discrepancy=found["amount_mismatch"],
        line=found["amount_mismatch"].line,
        payment=payments["B"],  # type: ignore[index]
        reason="Buyer added a tip; agreed with the GOM",
    )
    for kind, reason in [
        ("currency_mismatch", "Sent from a ringgit account; GOM refunds it"),
        ("duplicate_line", "Bank listed the transfer twice"),
        ("missing_from_statement", "Cash handed over at the meet-up"),
        ("unmatched_line", "Test transfer from the GOM's own account"),
    ]:
        discrepancy_close(actor=finance, discrepancy=found[kind], reason=reason)

    assert not Discrepancy.objects.filter(status="open").exists()
    events = list(
        AuditEvent.objects.filter(pk__gt=baseline)
        .order_by("pk")
        .values_list("action", "actor", "after__kind", "after__status")
    )
    assert events == [
        ("discrepancy.linked", finance.pk, "amount_mismatch", "linked"),
        ("discrepancy.closed", finance.pk, "currency_mismatch", "closed"),
        ("discrepancy.closed", finance.pk, "duplicate_line", "closed"),
        ("discrepancy.closed", finance.pk, "missing_from_statement", "closed"),
        ("discrepancy.closed", finance.pk, "unmatched_line", "closed"),
    ]
    linked = StatementMatch.objects.get(payment=payments["B"])  # type: ignore[index]
    assert (linked.kind, linked.status, linked.created_by) == ("manual", "confirmed", finance)
    # A later run neither reopens nor duplicates what finance resolved.
    again = reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]
    assert again.discrepancies == {}  # type: ignore[union-attr]
    assert Discrepancy.objects.count() == 5


def test_closing_without_a_reason_is_refused_and_changes_nothing(
    scenario: dict[str, object],
) -> None:
    method = scenario["method"]
    reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]
    target = _open(method)["unmatched_line"]
    events = AuditEvent.objects.count()

    with pytest.raises(ReconciliationError, match="Say why"):
        discrepancy_close(actor=StaffFactory(), discrepancy=target, reason="  ")

    target.refresh_from_db()
    assert (target.status, target.resolution_reason, target.resolved_by) == ("open", "", None)
    assert AuditEvent.objects.count() == events


def test_payment_recorded_late_settles_its_unmatched_line(scenario: dict[str, object]) -> None:
    method = scenario["method"]
    reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]
    paid(method, 7_700, reference=" ref-e", when="2026-03-04 08:00")  # type: ignore[arg-type]

    run = reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]

    assert "unmatched_line" not in run.discrepancies  # type: ignore[union-attr]
    settled = Discrepancy.objects.get(kind="unmatched_line")
    assert settled.status == "closed"
    assert settled.resolution_reason == f"Matched by reconciliation run #{run.pk}"  # type: ignore[union-attr]


def test_a_suggestion_is_confirmed_by_a_human(db: None) -> None:
    method = account("ph-bpi")
    payment = paid(method, 125_000, reference="BN-1", when="2026-03-02 08:00", buyer_name="Ana")
    text = "Date,Description,Debit,Credit,Balance\n03/02/2026,INSTAPAY FROM ANA,,1250.00,\n"
    import_file(method, text.encode(), preset="bpi")
    run = reconcile_account(payment_method_id=method.pk)
    match = StatementMatch.objects.get(payment=payment)
    finance = StaffFactory()

    suggestion_confirm(actor=finance, match=match)

    match.refresh_from_db()
    assert (run.suggested, match.status, match.line.match_status) == (1, "confirmed", "matched")  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action="statement_match.confirmed", actor=finance).count() == 1


def test_run_over_the_threshold_raises_an_alert(
    scenario: dict[str, object], settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RECONCILIATION_ALERT_THRESHOLD = 4  # type: ignore[attr-defined]
    method = scenario["method"]

    with caplog.at_level("ERROR"), pytest.MonkeyPatch.context():
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            run = reconcile_account(payment_method_id=method.pk)  # type: ignore[attr-defined]

    assert run.is_alert is True  # type: ignore[union-attr]
    assert (
        AuditEvent.objects.filter(action="reconciliation.alert", object_id=str(run.pk)).count() == 1
    )  # type: ignore[union-attr]
    assert "5 open discrepancies (alert above 4)" in caplog.text
