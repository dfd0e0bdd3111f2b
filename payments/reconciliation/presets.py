"""How each known statement export is read: which columns, which date styles, which sign rule.

Facts come from docs FORMATS.md §2–§3 (tags there say how sure each is). Where a provider publishes
no CSV layout (BPI, UnionBank), the preset follows the columns of its online-banking export as
commonly seen; finance can save a custom mapping (``StatementMapping``) when a file differs.
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum

from payments.reconciliation.models import DecimalStyle


class AmountRule(StrEnum):
    SIGNED = "signed"  # one column, money in positive (a leading "-" or trailing "-" is out)
    DEBIT_CREDIT = "debit_credit"  # two columns, one of them filled
    INDICATOR = "indicator"  # one unsigned column + a column saying credit/debit
    BALANCE_DELTA = "balance_delta"  # one unsigned column; the running balance gives the sign


@dataclass(frozen=True)
class Preset:
    code: str
    name: str
    # Header cells that identify the header row (compared case-insensitively, trimmed).
    header: tuple[str, ...]
    date_column: str
    date_formats: tuple[str, ...]
    amount_rule: AmountRule
    amount_column: str = ""
    debit_column: str = ""
    credit_column: str = ""
    indicator_column: str = ""
    credit_indicators: frozenset[str] = frozenset({"credit", "cr", "c"})
    reference_column: str = ""
    # Some exports put the reference inside a longer cell (HLB: payer name + DuitNow id).
    reference_pattern: str = ""
    payer_column: str = ""
    description_column: str = ""
    balance_column: str = ""
    currency_column: str = ""
    # A status column and the values meaning success; other rows are reported, not imported.
    status_column: str = ""
    status_ok: frozenset[str] = frozenset()
    # All lines go one way (Maya MDTR lists disbursements only).
    fixed_direction: str = ""
    decimal_style: str = DecimalStyle.DOT
    delimiter: str = ","
    # The date leads a longer cell ("02/03/2026 10:15  SAMPLE BUYER ONE"); the rest is the payer.
    date_leads_text: bool = False
    # A row whose first non-empty cell starts with one of these is an opening balance: its
    # balance seeds the sign rule, and it is no transaction.
    opening_markers: tuple[str, ...] = ()
    # Rows starting with these are totals and page furniture, skipped silently.
    footer_markers: tuple[str, ...] = ()
    # Rows with only text under a transaction continue its description (Maybank statements).
    continuation_rows: bool = False
    # Text before an amount that is not part of it ("RM12.50").
    amount_prefixes: tuple[str, ...] = ()
    country: str = ""
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def compiled_reference(self) -> re.Pattern[str] | None:
        return re.compile(self.reference_pattern) if self.reference_pattern else None


PRESETS: dict[str, Preset] = {
    preset.code: preset
    for preset in (
        Preset(
            code="gcash",
            name="GCash transaction history (PDF converted to CSV/XLSX)",
            country="PH",
            header=("Date and Time", "Reference No.", "Debit", "Credit"),
            date_column="Date and Time",
            date_formats=("%Y-%m-%d %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Debit",
            credit_column="Credit",
            reference_column="Reference No.",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance",
            opening_markers=("STARTING BALANCE",),
            footer_markers=("ENDING BALANCE", "Total Debit", "Total Credit"),
        ),
        Preset(
            code="maya_mdtr",
            name="Maya Daily Transaction Reconciliation (MDTR) CSV",
            country="PH",
            header=("DateTime", "Partner RRN", "MI3 RRN", "Amount"),
            date_column="DateTime",
            date_formats=("%Y-%m-%d %H:%M:%S",),
            amount_rule=AmountRule.SIGNED,
            amount_column="Amount",
            reference_column="MI3 RRN",
            payer_column="Target MSISDN",
            description_column="Partner RRN",
            status_column="Response Code",
            status_ok=frozenset({"0"}),
            # MDTR lists a partner's disbursements: money out of the account.
            fixed_direction="debit",
            footer_markers=("Total",),
        ),
        Preset(
            code="bpi",
            name="BPI online banking CSV (Date, Description, Debit, Credit, Balance)",
            country="PH",
            header=("Date", "Description", "Debit", "Credit", "Balance"),
            date_column="Date",
            date_formats=("%m/%d/%Y", "%Y-%m-%d"),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Debit",
            credit_column="Credit",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance",
            notes="BPI statements carry no reference: lines match by amount, date and name.",
        ),
        Preset(
            code="bdo_legacy",
            name="BDO My Transactions CSV (before March 2025)",
            country="PH",
            header=("Posting Date", "Debit Amount", "Credit Amount"),
            date_column="Posting Date",
            date_formats=("%b %d, %Y",),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Debit Amount",
            credit_column="Credit Amount",
            description_column="Description",
            payer_column="Description",
            balance_column="Running Balance",
            currency_column="Currency",
            footer_markers=("Page ", "** End of Report"),
        ),
        Preset(
            code="bdo",
            name="BDO My Transactions CSV (from March 2025)",
            country="PH",
            header=("Book date", "Amount", "Credit/debit indicator"),
            date_column="Book date",
            date_formats=("%d-%m-%Y", "%b %d, %Y"),
            amount_rule=AmountRule.INDICATOR,
            amount_column="Amount",
            indicator_column="Credit/debit indicator",
            description_column="Description",
            payer_column="Description",
        ),
        Preset(
            code="unionbank",
            name="UnionBank online banking CSV (Date, Transaction ID, Description, Debit, Credit)",
            country="PH",
            header=("Date", "Transaction ID", "Debit", "Credit"),
            date_column="Date",
            date_formats=("%m/%d/%Y", "%Y-%m-%d"),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Debit",
            credit_column="Credit",
            reference_column="Transaction ID",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance",
            notes="UnionBank publishes no CSV layout; save a custom mapping if yours differs.",
        ),
        Preset(
            code="maybank_biz",
            name="Maybank2u Biz pipe-delimited download",
            country="MY",
            header=("EFFECT DATE", "AMOUNT", "AMOUNT IND"),
            date_column="EFFECT DATE",
            date_formats=("%Y%m%d",),
            amount_rule=AmountRule.INDICATOR,
            amount_column="AMOUNT",
            indicator_column="AMOUNT IND",
            credit_indicators=frozenset({"cr"}),
            reference_column="TRX REFERENCE",
            payer_column="TRX DESCRIPTION",
            description_column="TRX DESCRIPTION",
            decimal_style=DecimalStyle.MINOR_UNITS,
            delimiter="|",
        ),
        Preset(
            code="maybank",
            name="Maybank account statement (Date, Description, Amount (RM) with +/-, Balance)",
            country="MY",
            header=("Date", "Description", "Amount (RM)"),
            date_column="Date",
            date_formats=("%d/%m/%y", "%d/%m/%Y"),
            amount_rule=AmountRule.SIGNED,
            amount_column="Amount (RM)",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance (RM)",
            continuation_rows=True,
            opening_markers=("BEGINNING BALANCE",),
            footer_markers=("ENDING BALANCE", "TOTAL CREDIT", "TOTAL DEBIT"),
        ),
        Preset(
            code="cimb",
            name="CIMB statement (Date, Description, Ref No, Withdrawal, Deposit, Balance)",
            country="MY",
            header=("Date", "Ref No", "Withdrawal", "Deposit"),
            date_column="Date",
            date_formats=("%d/%m/%Y",),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Withdrawal",
            credit_column="Deposit",
            reference_column="Ref No",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance",
            opening_markers=("OPENING BALANCE",),
            footer_markers=("CLOSING BALANCE",),
        ),
        Preset(
            code="public_bank",
            name="Public Bank statement (Date DD/MM, Description, Amount, Balance)",
            country="MY",
            header=("Date", "Description", "Amount", "Balance"),
            date_column="Date",
            # Rows carry no year; the importer adds the statement's year.
            date_formats=("%d/%m/%Y", "%d/%m"),
            amount_rule=AmountRule.BALANCE_DELTA,
            amount_column="Amount",
            description_column="Description",
            payer_column="Description",
            balance_column="Balance",
            opening_markers=("Balance B/F",),
        ),
        Preset(
            code="hlb",
            name="Hong Leong HLB Connect CSV",
            country="MY",
            header=("Date", "Transaction Description", "Ref. No.", "Deposit", "Withdrawal"),
            date_column="Date",
            date_formats=("%d-%m-%Y",),
            amount_rule=AmountRule.DEBIT_CREDIT,
            debit_column="Withdrawal",
            credit_column="Deposit",
            reference_column="Ref. No.",
            # The DuitNow end-to-end id: date, 8-letter BIC, then 14 more characters.
            reference_pattern=r"\b(\d{8}[A-Z]{6}[A-Z0-9]{2}[A-Z0-9]{14})\b",
            payer_column="Ref. No.",
            description_column="Transaction Description",
            balance_column="Balance",
            opening_markers=("Balance from previous statement",),
        ),
        Preset(
            code="tng_v1",
            name="Touch 'n Go eWallet transactions (older PDF layout, as CSV)",
            country="MY",
            header=("Date", "Status", "Transaction Type", "Reference", "Amount (RM)"),
            date_column="Date",
            date_formats=("%d/%m/%Y",),
            amount_rule=AmountRule.BALANCE_DELTA,
            amount_column="Amount (RM)",
            reference_column="Reference",
            payer_column="Description",
            description_column="Transaction Type",
            balance_column="Wallet Balance",
            status_column="Status",
            status_ok=frozenset({"success"}),
            amount_prefixes=("RM",),
        ),
        Preset(
            code="tng_v2",
            name="Touch 'n Go eWallet transactions (newer PDF layout, as CSV)",
            country="MY",
            header=("Details", "Transaction Type", "Reference No.", "Amount (RM)"),
            date_column="Details",
            date_formats=("%d/%m/%Y %H:%M",),
            date_leads_text=True,
            amount_rule=AmountRule.SIGNED,
            amount_column="Amount (RM)",
            reference_column="Reference No.",
            payer_column="Details",
            description_column="Transaction Type",
            amount_prefixes=("RM",),
        ),
    )
}


def preset_choices() -> list[tuple[str, str]]:
    return [(code, preset.name) for code, preset in PRESETS.items()]


def preset_from_mapping(mapping: object) -> Preset:
    """Build a preset from a saved custom mapping (``StatementMapping``)."""
    amount_column = getattr(mapping, "amount_column", "")
    header = tuple(
        column
        for column in (
            getattr(mapping, "header_marker", ""),
            getattr(mapping, "date_column", ""),
        )
        if column
    )
    return Preset(
        code=f"mapping:{getattr(mapping, 'pk', '')}",
        name=str(mapping),
        header=header,
        date_column=getattr(mapping, "date_column", ""),
        date_formats=(getattr(mapping, "date_format", "%Y-%m-%d"),),
        amount_rule=AmountRule.SIGNED if amount_column else AmountRule.DEBIT_CREDIT,
        amount_column=amount_column,
        debit_column=getattr(mapping, "debit_column", ""),
        credit_column=getattr(mapping, "credit_column", ""),
        reference_column=getattr(mapping, "reference_column", ""),
        payer_column=getattr(mapping, "payer_column", ""),
        description_column=getattr(mapping, "description_column", ""),
        currency_column=getattr(mapping, "currency_column", ""),
        decimal_style=getattr(mapping, "decimal_style", DecimalStyle.DOT),
        delimiter=getattr(mapping, "delimiter", ",") or ",",
    )
