"""The translation rules of the legacy import (docs/legacy-import.md), one value at a time."""

import pytest

from legacy.mapping import (
    SUBMISSION_STATUS_MAP,
    Unmappable,
    amount_minor,
    map_method_type,
    map_payment_method,
    map_proof_status,
    map_submission_status,
    normalize_email,
)


@pytest.mark.parametrize(
    ("legacy", "ours"),
    [
        ("pending", "pending_payment"),
        ("PAID", "verified"),
        ("failed", "rejected"),
        ("expired", "expired"),
        (" cancelled ", "cancelled"),
    ],
)
def test_submission_status_mapping(legacy: str, ours: str) -> None:
    assert map_submission_status(legacy) == ours


def test_only_the_legacy_enum_statuses_are_mapped() -> None:
    assert set(SUBMISSION_STATUS_MAP) == {"pending", "paid", "failed", "expired", "cancelled"}
    with pytest.raises(Unmappable, match="status 'refunded' is not one of"):
        map_submission_status("refunded")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        (
            {"type": "GCash", "number": "+63 917 123 4567", "name": "Ana"},
            "PH",
            ("ph-gcash", "09171234567"),
        ),
        (
            {"Method Type": "PayMaya", "Mobile": "0918-765-4321", "Holder": "Ana"},
            "PH",
            ("ph-maya", "09187654321"),
        ),
        (
            {
                "method": "Bank",
                "bank_name": "BDO",
                "account_no": "0012 3456 7890",
                "account_name": "Ana",
            },
            "PH",
            ("ph-bdo", "001234567890"),
        ),
        (
            {"type": "touch_n_go", "number": "012-345 6789", "name": "Ben"},
            "MY",
            ("my-tng", "0123456789"),
        ),
        (
            {"type": "Touch 'n Go eWallet", "number": "0123456789", "name": "Ben"},
            None,
            ("my-tng", "0123456789"),
        ),
        (
            {"type": "CIMB Clicks", "account_number": "8001234567", "account_name": "Ben"},
            "MY",
            ("my-cimb", "8001234567"),
        ),
        ({"type": "cash", "name": "SM Megamall"}, "PH", ("ph-cash", "")),
    ],
)
def test_free_form_methods_map_onto_templates(
    raw: dict[str, str], country: str | None, expected: tuple[str, str]
) -> None:
    mapped = map_payment_method(raw, country)
    assert (mapped.template_code, mapped.account_number) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        (
            {"type": "GrabPay", "number": "09171234567", "name": "Ana"},
            None,
            "exists in several countries",
        ),
        (
            {"type": "duitnow", "account_number": "0123456789", "account_name": "Ben"},
            "MY",
            "duitnow_id_type",
        ),
        ({"bank": "Chase", "account_number": "1"}, "PH", "no template for the provider 'Chase'"),
        ({"account_number": "09171234567"}, "PH", "names no provider"),
        (["gcash"], "PH", "not an object but list"),
    ],
)
def test_methods_that_fit_no_template_are_refused_with_the_reason(
    raw: object, country: str | None, reason: str
) -> None:
    with pytest.raises(Unmappable, match=reason):
        map_payment_method(raw, country)


def test_amounts_and_e_mails() -> None:
    assert amount_minor("1250.00", "PHP") == 125_000
    assert amount_minor(45.5, "MYR") == 4_550
    with pytest.raises(Unmappable, match="not more than zero"):
        amount_minor("-1.00", "PHP")
    with pytest.raises(Unmappable, match="the amount is empty"):
        amount_minor(None, "PHP")
    assert normalize_email("  Carla@Mail.COM ") == "carla@mail.com"
    assert normalize_email("not an address") is None
    assert normalize_email(None) is None


@pytest.mark.parametrize(
    ("legacy", "ours"),
    [
        ("gcash", "gcash"),
        ("GCash", "gcash"),
        ("PayMaya", "maya"),
        ("touch_n_go", "tng"),
        ("Bank", "bank_transfer"),
        ("instapay", "bank_transfer"),
        # Several kinds or none at all: no method type rather than a guess.
        ("card", ""),
        ("fpx", ""),
        (None, ""),
        ("", ""),
    ],
)
def test_transaction_method_type_mapping(legacy: str | None, ours: str) -> None:
    assert map_method_type(legacy) == ours


def test_proof_statuses_are_the_legacy_enum() -> None:
    assert [map_proof_status(s) for s in ("Approved", " flagged ", "requires_review")] == [
        "approved",
        "flagged",
        "requires_review",
    ]
    with pytest.raises(Unmappable, match="verification status 'maybe' is not one of"):
        map_proof_status("maybe")
