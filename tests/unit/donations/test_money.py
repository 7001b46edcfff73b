"""Exact amounts: strict parsing, minor units, formatting, no mixing of currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from swarmdex.donations.money import (
    CURRENCIES,
    Money,
    MoneyError,
    check_currency,
    decimals,
    format_amount,
    from_minor,
    parse_amount,
    plain_amount,
    to_minor,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        ("12", "EUR", 1200),
        ("0.01", "USD", 1),
        ("1000", "JPY", 1000),
        ("1.250", "KWD", 1250),
        ("0.001", "BHD", 1),
        ("99999.999", "KWD", 99_999_999),
    ],
)
def test_amounts_parse_exactly_into_minor_units(text: str, currency: str, minor: int) -> None:
    amount = parse_amount(text, currency)
    assert isinstance(amount, Decimal)
    assert to_minor(amount, currency) == minor
    assert from_minor(minor, currency) == amount


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("12.505", "EUR", "at most 2 decimals"),
        ("12.500", "EUR", "at most 2 decimals"),  # trailing zeros too: never rounded, never guessed
        ("100.5", "JPY", "JPY amounts have no decimals"),
        ("100.0", "JPY", "JPY amounts have no decimals"),
        ("1.2345", "KWD", "at most 3 decimals"),
        ("+5", "EUR", "digits with a decimal point"),
        ("1e3", "EUR", "digits with a decimal point"),
        ("1,000.00", "EUR", "digits with a decimal point"),
        (".5", "EUR", "digits with a decimal point"),
        ("5.", "EUR", "digits with a decimal point"),
        (" 5", "EUR", "digits with a decimal point"),
        ("NaN", "EUR", "digits with a decimal point"),
        ("Infinity", "EUR", "digits with a decimal point"),
        ("007", "EUR", "digits with a decimal point"),
        ("١٢", "EUR", "digits with a decimal point"),  # Arabic-Indic digits: not ASCII
        ("1" * 16, "EUR", "more than 14 digits before the decimal point"),
        # 15 digits with 4 decimals would not fit a signed 64-bit count of minor units.
        ("9" * 15 + ".9999", "CLF", "more than 14 digits before the decimal point"),
        ("", "EUR", "digits with a decimal point"),
        ("0", "EUR", "cannot be zero"),
        ("0.00", "EUR", "cannot be zero"),
        ("-5.00", "EUR", "cannot be negative"),
    ],
)
def test_anything_inexact_or_odd_is_refused(text: str, currency: str, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        parse_amount(text, currency)


def test_the_largest_amount_fits_a_64_bit_column_whatever_the_cap() -> None:
    for currency in ("JPY", "EUR", "KWD", "CLF"):
        largest = parse_amount("9" * 14 + "." + "9" * decimals(currency) if decimals(currency)
                               else "9" * 14, currency)
        assert 0 < to_minor(largest, currency) < 2**63


def test_the_example_in_the_message_has_the_currencys_decimals() -> None:
    with pytest.raises(MoneyError, match="“1000”"):
        parse_amount("lots", "JPY")
    with pytest.raises(MoneyError, match=r"“12\.555”"):
        parse_amount("lots", "KWD")


def test_refunds_are_negative_and_only_negative() -> None:
    assert parse_amount("-5.00", "EUR", negative=True) == Decimal("-5.00")
    with pytest.raises(MoneyError, match="A refund is a negative amount"):
        parse_amount("5.00", "EUR", negative=True)
    with pytest.raises(MoneyError, match="digits with a decimal point"):
        parse_amount("--5", "EUR", negative=True)


def test_the_cap_bounds_the_size_either_way() -> None:
    cap = Decimal("1000")
    assert parse_amount("1000.00", "EUR", cap=cap) == Decimal("1000")
    assert parse_amount("-1000", "EUR", negative=True, cap=cap) == Decimal("-1000")
    with pytest.raises(MoneyError, match=r"1,000\.01 EUR is more than the largest amount"):
        parse_amount("1000.01", "EUR", cap=cap)
    with pytest.raises(MoneyError, match="more than the largest amount"):
        parse_amount("-1000.01", "EUR", negative=True, cap=cap)


@pytest.mark.parametrize("code", ["eur", "EURO", "XXX", "XAU", "", "€", "E\x00R", "ZZZ"])
def test_unknown_currency_codes_are_refused(code: str) -> None:
    with pytest.raises(MoneyError, match="not an ISO 4217 currency code"):
        check_currency(code)
    with pytest.raises(MoneyError):
        parse_amount("1", code)


def test_the_table_knows_the_odd_minor_units() -> None:
    assert (CURRENCIES["EUR"], CURRENCIES["JPY"], CURRENCIES["KWD"], CURRENCIES["BHD"]) == (2, 0, 3, 3)
    assert CURRENCIES["CLF"] == 4
    assert all(len(code) == 3 and code.isupper() for code in CURRENCIES)


def test_to_minor_refuses_rather_than_rounds() -> None:
    with pytest.raises(MoneyError, match="more decimals than EUR"):
        to_minor(Decimal("0.001"), "EUR")


@pytest.mark.parametrize(
    ("minor", "currency", "shown", "plain"),
    [
        (123450, "EUR", "1,234.50 EUR", "1234.50"),
        (5, "USD", "0.05 USD", "0.05"),
        (-500, "EUR", "-5.00 EUR", "-5.00"),
        (5000, "JPY", "5,000 JPY", "5000"),
        (-250, "KWD", "-0.250 KWD", "-0.250"),
        (1_000_001, "BHD", "1,000.001 BHD", "1000.001"),
        (0, "EUR", "0.00 EUR", "0.00"),
    ],
)
def test_formatting_shows_every_decimal(minor: int, currency: str, shown: str, plain: str) -> None:
    assert format_amount(minor, currency) == shown
    assert plain_amount(minor, currency) == plain
    assert str(Money(minor, currency)) == shown
    assert Money(minor, currency).plain == plain


def test_money_adds_within_one_currency_only() -> None:
    assert Money(1250, "EUR") + Money(-250, "EUR") == Money(1000, "EUR")
    with pytest.raises(MoneyError, match="EUR and USD amounts are not added together"):
        _ = Money(1250, "EUR") + Money(1, "USD")


def test_sums_of_many_small_amounts_stay_exact() -> None:
    # Ten 0.10s are 1.00 exactly (they would not be as binary floats).
    total = Money(0, "EUR")
    for _ in range(10):
        total = total + Money(to_minor(parse_amount("0.10", "EUR"), "EUR"), "EUR")
    assert total == Money(100, "EUR") and total.amount == Decimal("1.00")
    assert sum(0.1 for _ in range(10)) != 1.0  # why
