"""Each preset reads a statement made here (after FORMATS.md §3) with exact lines and matches."""

from dataclasses import dataclass, field

import pytest

from payments.reconciliation.matching import reconcile_account
from payments.reconciliation.models import StatementLine, StatementMatch
from tests.factories import UserFactory
from tests.finance.helpers import TEMPLATES, account, import_file, paid


@dataclass
class Case:
    preset: str
    text: str
    # (amount_minor, reference, paid local time, buyer name, buyer tag for shared buyers)
    payments: list[tuple[int, str, str, str, str]]
    # (row, direction, amount_minor, normalised reference, match status)
    lines: list[tuple[int, str, int, str, str]]
    errors: list[dict[str, object]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    discrepancies: dict[str, int] = field(default_factory=dict)
    # Row → full description, where rows under a transaction continue it.
    descriptions: dict[int, str] = field(default_factory=dict)


M, S, U, D = "matched", "suggested", "unmatched", "unmatched"
CASES = [
    Case(
        preset="gcash",
        text=(
            "GCash Transaction History\n"
            "2026-03-01 to 2026-03-31\n"
            "Date and Time,Description,Reference No.,Debit,Credit,Balance\n"
            ',STARTING BALANCE,,,,"2,500.00"\n'
            "2026-03-02 9:14 AM,Received GCash from 09170000001,9000111222333,,"
            '"1,250.00","3,750.00"\n'
            '2026-03-02 11:40 AM,Transfer to SA***E BU*R S.,9000111222334,480.00,,"3,270.00"\n'
            "2026-03-03 4:05 PM,Received GCash from SAMPLE BANK with account ending in 0000 and "
            'invno:20260303SMPLPHM1XXXB000000000000001,9000111222335,,"2,000.00","5,270.00"\n'
            '2026-02-30 1:00 PM,Received GCash from 09170000009,9000111222336,,10.00,"5,280.00"\n'
            ',ENDING BALANCE,,,,"5,270.00"\n'
            ",Total Debit,,480.00,,\n"
            ',Total Credit,,,"3,250.00",\n'
        ),
        payments=[(125_000, "9000 111 222 333", "2026-03-02 09:10", "Ana Reyes", "a")],
        lines=[
            (5, "credit", 125_000, "9000111222333", M),
            (6, "debit", 48_000, "9000111222334", U),
            (7, "credit", 200_000, "9000111222335", U),
        ],
        errors=[{"row": 8, "reason": "bad date “2026-02-30 1:00 PM”"}],
        kinds=["reference"],
        discrepancies={"unmatched_line": 1},
    ),
    Case(
        preset="maya_mdtr",
        text=(
            "SAMPLE PARTNER MDTR Report\n"
            "20260305\n"
            "DateTime,Target PAN,Target MSISDN,Target type,Partner RRN,MI3 RRN,Amount,"
            "Response Code\n"
            "2026-03-04 09:12:01,000000******0000,639000000001,PAYMAYA,"
            "00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-0000000000a1,250.00,0\n"
            "2026-03-04 09:15:44,000000******0000,639000000002,PAYMAYA,"
            "00000000-0000-4000-8000-000000000002,00000000-0000-4000-8000-0000000000a2,1200.00,0\n"
            "2026-03-04 10:02:19,000000******0000,639000000003,PAYMAYA,"
            "00000000-0000-4000-8000-000000000003,00000000-0000-4000-8000-0000000000a3,75.00,51\n"
            "Total Debit Amount,1450.00\n"
            "Total No. of Successful Transactions,2\n"
        ),
        payments=[],
        lines=[
            (4, "debit", 25_000, "00000000-0000-4000-8000-0000000000A1", U),
            (5, "debit", 120_000, "00000000-0000-4000-8000-0000000000A2", U),
        ],
        errors=[{"row": 6, "reason": "not a completed transaction (status “51”)"}],
    ),
    Case(
        preset="bpi",
        text=(
            "Date,Description,Debit,Credit,Balance\n"
            "03/02/2026,INSTAPAY TRANSFER FROM JUAN DELA CRUZ,,1250.00,11250.00\n"
            "03/03/2026,ONLINE PAYMENT,500.00,,10750.00\n"
            "03/04/2026,INSTAPAY TRANSFER FROM MARIA SANTOS,,12.5O,10762.50\n"
        ),
        payments=[
            (125_000, "BN-20260302-0001", "2026-03-02 08:00", "Juan Dela Cruz", "a"),
            (125_000, "BN-20260302-0002", "2026-03-02 08:30", "Maria Santos", "b"),
        ],
        lines=[(2, "credit", 125_000, "", S), (3, "debit", 50_000, "", U)],
        errors=[{"row": 4, "reason": "bad amount “12.5O”"}],
        kinds=["suggestion"],
    ),
    Case(
        preset="bdo_legacy",
        text=(
            "My Transactions\n"
            "Account No:,000000000000\n"
            "Account Name:,SAMPLE GOM\n"
            "Account Type: SA\n"
            "Account Currency: PHP\n"
            "Period Covered: From 03/01/2026 To 03/31/2026\n"
            "Posting Date,Description,,Branch,Debit Amount,,Credit Amount,,Running Balance,,"
            "Currency,Check Number\n"
            '"Mar 3, 2026",INSTAPAY TRANSFER,, ,,,"1,250.00",,"10,250.00",,PHP,\n'
            '"Mar 3, 2026",ONLINE TRANSFER,, ,"500.00",,,,"9,750.00",,PHP,\n'
            '"Mar 4, 2026",INTEREST PAY SYS-GEN,, ,,,0.41,,"9,750.41",,PHP,\n'
            '"Mar 5, 2026",FOREIGN REMITTANCE,, ,,,"10.00",,"9,760.41",,USD,\n'
            "Page 1 of 1\n"
            "** End of Report **\n"
        ),
        payments=[(125_000, "BN-0001", "2026-03-02 20:00", "Ana Reyes", "a")],
        lines=[
            (8, "credit", 125_000, "", S),
            (9, "debit", 50_000, "", U),
            (10, "credit", 41, "", U),
        ],
        errors=[{"row": 11, "reason": "unsupported currency “USD”"}],
        kinds=["suggestion"],
        discrepancies={"unmatched_line": 1},
    ),
    Case(
        preset="bdo",
        text=(
            "Book date,Description,Amount,Credit/debit indicator,Account number(BBAN)\n"
            "03-03-2026,INSTAPAY TRANSFER,1250.00,Credit,000000000000\n"
            "03-03-2026,ONLINE TRANSFER,500.00,Debit,000000000000\n"
            "04-03-2026,INTEREST WITHHELD,0.08,Debit,000000000000\n"
            "05-03-2026,INSTAPAY TRANSFER,20.00,,000000000000\n"
        ),
        payments=[(125_000, "BN-0002", "2026-03-03 10:00", "Ana Reyes", "a")],
        lines=[
            (2, "credit", 125_000, "", S),
            (3, "debit", 50_000, "", U),
            (4, "debit", 8, "", U),
        ],
        errors=[{"row": 5, "reason": "missing credit/debit indicator"}],
        kinds=["suggestion"],
    ),
    Case(
        preset="unionbank",
        text=(
            "Date,Transaction ID,Description,Debit,Credit,Balance\n"
            "03/02/2026,UB1000000001,INSTAPAY FROM PEDRO PENDUKO,,1250.00,5000.00\n"
            "03/03/2026,UB2000000002,INSTAPAY FROM PEDRO PENDUKO,,1500.00,6500.00\n"
        ),
        payments=[
            (125_000, "UB1000000001", "2026-03-02 09:00", "Pedro Penduko", "p"),
            (75_000, "UB2000000002", "2026-03-03 09:00", "Pedro Penduko", "p"),
            (75_000, "ub 2000000002", "2026-03-03 09:00", "Pedro Penduko", "p"),
        ],
        lines=[
            (2, "credit", 125_000, "UB1000000001", M),
            (3, "credit", 150_000, "UB2000000002", M),
        ],
        kinds=["reference", "split", "split"],
    ),
    Case(
        preset="maybank_biz",
        text=(
            "BATCH DATE|ACCOUNT NO.|PROD TYPE|EFFECT DATE|EFFECT TIME|BRANCH|TELLER|CODE|"
            "SOURCE CODE|AMOUNT|AMOUNT IND|TRX DESCRIPTION|TRX REFERENCE\n"
            "20260302|0000000000000000|CA|20260302|101500|0000|SAMPLE01|0000|000|"
            "000000000125000|CR|SAMPLE BUYER ONE*|ORDER 0001\n"
            "20260302|0000000000000000|CA|20260302|143010|0000|SAMPLE01|0000|000|"
            "000000000030000|DR|SAMPLE SUPPLIER*|PO 0002\n"
            "20260303|0000000000000000|CA|20260303|090102|0000|SAMPLE01|0000|000|"
            "000000000050000|CR|SAMPLE BUYER TWO*|ORDER 0004\n"
            "20260310|0000000000000000|CA|20260310|090102|0000|SAMPLE01|0000|000|"
            "000000000050000|CR|SAMPLE BUYER TWO*|ORDER 0004\n"
            "20260311|0000000000000000|CA|20260311|090102|0000|SAMPLE01|0000|000|"
            "00000000004.99|CR|SAMPLE BUYER THREE*|ORDER 0005\n"
        ),
        payments=[
            (125_000, "ORDER0001", "2026-03-02 10:00", "Sample Buyer One", "1"),
            (100_000, "ORDER 0004", "2026-03-03 08:00", "Sample Buyer Two", "2"),
        ],
        lines=[
            (2, "credit", 125_000, "ORDER0001", M),
            (3, "debit", 30_000, "PO0002", U),
            (4, "credit", 50_000, "ORDER0004", M),
            (5, "credit", 50_000, "ORDER0004", M),
        ],
        errors=[{"row": 6, "reason": "bad amount “00000000004.99”"}],
        kinds=["installments", "installments", "reference"],
    ),
    Case(
        preset="maybank",
        text=(
            "Date,Description,Amount (RM),Balance (RM)\n"
            '01/03/26,BEGINNING BALANCE,,"5,000.00"\n'
            '02/03/26,TRANSFER FR A/C,"1,250.00+","6,250.00"\n'
            ",SAMPLE BUYER ONE *,,\n"
            ",ORDER 0001,,\n"
            '03/03/26,TRANSFER TO A/C,300.00-,"5,950.00"\n'
            ",SAMPLE SUPPLIER SDN BHD *,,\n"
            'ENDING BALANCE :,,,"5,950.00"\n'
        ),
        descriptions={
            3: "TRANSFER FR A/C SAMPLE BUYER ONE * ORDER 0001",
            6: "TRANSFER TO A/C SAMPLE SUPPLIER SDN BHD *",
        },
        payments=[
            (125_000, "1714285001", "2026-03-02 09:00", "Sample Buyer One", "1"),
            (125_000, "1714285002", "2026-03-02 09:30", "Another Person", "2"),
        ],
        lines=[(3, "credit", 125_000, "", S), (6, "debit", 30_000, "", U)],
        kinds=["suggestion"],
    ),
    Case(
        preset="cimb",
        text=(
            "Date,Description,Ref No,Withdrawal,Deposit,Balance\n"
            "01/03/2026,OPENING BALANCE,,,,1000.00\n"
            "02/03/2026,DUITNOW TRANSFER SAMPLE BUYER ONE ORDER 0001,000000001,,125.00,1125.00\n"
            "02/03/2026,IBG TRANSFER SAMPLE SUPPLIER,000000002,40.00,,1085.00\n"
            "03/03/2026,DUITNOW QR SAMPLE BUYER TWO,000000003,,49.90,1134.90\n"
            "04/03/2026,DUITNOW QR SAMPLE BUYER TWO,000000004,5.00,5.00,1134.90\n"
            "CLOSING BALANCE / BAKI PENUTUP,,,,,1134.90\n"
        ),
        payments=[
            (12_000, "000000001", "2026-03-02 09:00", "Sample Buyer One", "1"),
            (4_990, "000000003", "2026-03-03 09:00", "Sample Buyer Two", "2"),
        ],
        lines=[
            (3, "credit", 12_500, "000000001", U),
            (4, "debit", 4_000, "000000002", U),
            (5, "credit", 4_990, "000000003", M),
        ],
        errors=[{"row": 6, "reason": "both debit and credit filled"}],
        kinds=["reference"],
        discrepancies={"amount_mismatch": 1},
    ),
    Case(
        preset="public_bank",
        text=(
            "Date,Description,Amount,Balance\n"
            "01/03,Balance B/F,,1000.00\n"
            "02/03,DUITNOW TRSF CR SAMPLE BUYER ONE,125.00,1125.00\n"
            "03/03,TSFR FUND DR SAMPLE SUPPLIER,40.00,1085.00\n"
            "04/03,DUITNOW TRSF CR SAMPLE BUYER TWO,50.00,1200.00\n"
            "05/03,DUITNOW TRSF CR SAMPLE BUYER THREE,15.00,1215.00\n"
        ),
        payments=[(12_500, "PBB0001", "2026-03-02 12:00", "Sample Buyer One", "1")],
        lines=[
            (3, "credit", 12_500, "", S),
            (4, "debit", 4_000, "", U),
            (6, "credit", 1_500, "", U),
        ],
        errors=[
            {
                "row": 5,
                "reason": "amount 50.00 does not match the balance change (1085.00 → 1200.00)",
            }
        ],
        kinds=["suggestion"],
        discrepancies={"unmatched_line": 1},
    ),
    Case(
        preset="hlb",
        text=(
            "HLB SAMPLE CURRENT ACCOUNT - 00000000000,\n"
            "Date,Transaction Description,Cheque No.,Ref. No.,Deposit,Withdrawal,Balance\n"
            '="",="Balance from previous statement",="",="",="",="",="1000.00"\n'
            '="02-03-2026",="Instant Transfer at KLM",="",'
            '="SAMPLE BUYER ONE 20260302SMPLMYKL010ORB00000001",="125.00",="",="1125.00"\n'
            '="03-03-2026",="DuitNow Transfer",="",="SAMPLE SUPPLIER PO0002",'
            '="",="40.00",="1085.00"\n'
        ),
        payments=[
            (12_500, "20260302SMPLMYKL010ORB00000001", "2026-03-02 10:00", "Sample Buyer One", "1")
        ],
        lines=[
            (4, "credit", 12_500, "20260302SMPLMYKL010ORB00000001", M),
            (5, "debit", 4_000, "SAMPLESUPPLIERPO0002", U),
        ],
        kinds=["reference"],
    ),
    Case(
        preset="tng_v1",
        text=(
            "Date,Status,Transaction Type,Reference,Description,Details,Amount (RM),"
            "Wallet Balance\n"
            "01/03/2026,Success,Payment,000000000000000001,SAMPLE SHOP,,RM7.90,RM100.00\n"
            "02/03/2026,Success,DUITNOW_TRANSFERTO,000000000000000002,SAMPLE BUYER ONE,"
            "ORDER 0001,RM12.50,RM112.50\n"
            "02/03/2026,Failed,Transfer to Wallet,000000000000000003,SAMPLE BUYER TWO,,"
            "RM20.00,RM112.50\n"
            "03/03/2026,Success,Payment,000000000000000004,SAMPLE SHOP,,RM7.90,RM104.60\n"
        ),
        payments=[(1_250, "000000000000000002", "2026-03-02 09:00", "Sample Buyer One", "1")],
        lines=[
            (3, "credit", 1_250, "000000000000000002", M),
            (5, "debit", 790, "000000000000000004", U),
        ],
        errors=[
            {"row": 2, "reason": "no earlier balance: cannot tell money in from money out"},
            {"row": 4, "reason": "not a completed transaction (status “Failed”)"},
        ],
        kinds=["reference"],
    ),
    Case(
        preset="tng_v2",
        text=(
            "Details,Transaction Type,Reference No.,Amount (RM)\n"
            "02/03/2026 10:15  SAMPLE BUYER ONE,DuitNow Transfer,000000000000000001,RM12.50\n"
            "02/03/2026 13:02  SAMPLE SHOP,Payment,000000000000000002,-RM7.90\n"
            "03/03/2026 09:40  SAMPLE BUYER TWO,Transfer,000000000000000003,RM20.00\n"
        ),
        payments=[
            (1_250, "000000000000000001", "2026-03-02 10:00", "Sample Buyer One", "1"),
            # The agent misread this proof's reference: amount, date and name still agree.
            (2_000, "000000000000000008", "2026-03-03 09:00", "Sample Buyer Two", "2"),
        ],
        lines=[
            (2, "credit", 1_250, "000000000000000001", M),
            (3, "debit", 790, "000000000000000002", U),
            (4, "credit", 2_000, "000000000000000003", S),
        ],
        kinds=["reference", "suggestion"],
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[case.preset for case in CASES])
def test_preset_reads_its_statement_and_matches_exactly(case: Case) -> None:
    method = account(TEMPLATES[case.preset])
    buyers: dict[str, object] = {}
    for amount, reference, when, name, tag in case.payments:
        buyer = buyers.setdefault(tag, UserFactory(full_name=name))
        paid(method, amount, reference=reference, when=when, buyer_name=name, buyer=buyer)

    statement = import_file(method, case.text.encode(), preset=case.preset)
    run = reconcile_account(payment_method_id=method.pk)

    assert statement.status == "imported", statement.failure_reason
    assert statement.error_rows == case.errors
    assert statement.lines_added == len(case.lines)
    assert statement.lines_already_present == 0
    assert run is not None
    got = [
        (
            line.row_number,
            line.direction,
            line.amount_minor,
            line.reference_normalized,
            line.match_status,
        )
        for line in StatementLine.objects.filter(statement=statement).order_by("row_number")
    ]
    assert got == case.lines
    if case.descriptions:
        assert (
            dict(
                StatementLine.objects.filter(statement=statement).values_list(
                    "row_number", "description"
                )
            )
            == case.descriptions
        )
    kinds = sorted(
        StatementMatch.objects.filter(line__statement=statement).values_list("kind", flat=True)
    )
    assert kinds == sorted(case.kinds)
    assert run.discrepancies == case.discrepancies
    assert run.matched == sum(1 for line in case.lines if line[4] == M and line[1] == "credit")
    assert run.suggested == sum(1 for line in case.lines if line[4] == S)
