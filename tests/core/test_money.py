import pytest

from core.money import MoneyError, format_money, parse_amount, percent_of


@pytest.mark.parametrize(
    ("amount_minor", "currency", "expected"),
    [
        (125_000, "PHP", "₱1,250.00"),
        (4_550, "MYR", "RM 45.50"),
        (0, "PHP", "₱0.00"),
        (5, "MYR", "RM 0.05"),
        (-1_000, "PHP", "-₱10.00"),
        (10_000_000_00, "PHP", "₱10,000,000.00"),
    ],
)
def test_format_money(amount_minor: int, currency: str, expected: str) -> None:
    assert format_money(amount_minor, currency) == expected


def test_format_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        format_money(12.5, "PHP")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,250.00", 125_000), ("45.5", 4_550), (" 7 ", 700), ("0.01", 1)],
)
def test_parse_amount(text: str, expected: int) -> None:
    assert parse_amount(text, "PHP") == expected


@pytest.mark.parametrize("text", ["12.345", "abc", "", "NaN", "1.2.3"])
def test_parse_amount_refuses_what_is_not_money(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "MYR")


def test_percent_of_rounds_half_up_to_a_minor_unit() -> None:
    assert percent_of(100_000, 350) == 3_500
    assert percent_of(1_001, 250) == 25  # 25.025
    assert percent_of(1_020, 250) == 26  # 25.5 rounds up
    assert percent_of(1_000, 5) == 1  # 0.5 rounds up
