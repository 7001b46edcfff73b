"""Exact amounts of money: parsed strictly from text, kept as integer minor units, shown with
exactly as many decimals as the currency has.

Why integers of minor units (cents, yen, fils): sums in SQL and in Python are then exact
with no decimal type in the database, and a currency's decimals are a fact about the
currency (ISO 4217), not about each row. `Decimal` is used only at the edges: reading what
someone typed or sent, and writing it back out.

Nothing here rounds. An amount with more decimals than its currency has ("12.505" EUR,
"100.5" JPY) is refused rather than rounded, and amounts in different currencies are never
added together: `Money.__add__` refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

__all__ = [
    "CURRENCIES",
    "Money",
    "MoneyError",
    "check_currency",
    "decimals",
    "format_amount",
    "from_minor",
    "parse_amount",
    "plain_amount",
    "to_minor",
]

# ISO 4217 active codes and their minor unit (decimals). Codes with no minor unit defined
# (precious metals, testing and fund codes: XAU, XTS, XXX...) are left out on purpose:
# nobody donates in them, and a typo that lands on one should be refused.
_THREE: Final = "BHD IQD JOD KWD LYD OMR TND"
_ZERO: Final = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_FOUR: Final = "CLF UYW"
_TWO: Final = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
    "WST XCD YER ZAR ZMW ZWL"
)
CURRENCIES: Final[dict[str, int]] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}

# At most 14 integer digits: beyond any real donation, and within a signed 64-bit column
# of minor units even with 4 decimals (10**18 < 2**63). The configured cap is far lower,
# but it is the operator's to raise: this bound holds whatever it is.
_MAX_WHOLE_DIGITS: Final = 14
_AMOUNT: Final = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")


class MoneyError(ValueError):
    """An amount or currency that cannot be used; the message can be shown as it is."""


def check_currency(code: str) -> str:
    """`code` if it is an ISO 4217 currency code this site knows ("EUR"), else MoneyError.
    Upper case only: a code is an identifier, not a word to guess at."""
    if code not in CURRENCIES:
        shown = code if len(code) <= 8 and code.isprintable() else code[:8] + "…"
        raise MoneyError(f"“{shown}” is not an ISO 4217 currency code (like EUR, USD or JPY).")
    return code


def decimals(currency: str) -> int:
    """How many decimals amounts in `currency` have (EUR 2, JPY 0, KWD 3)."""
    return CURRENCIES[check_currency(currency)]


def parse_amount(
    text: str,
    currency: str,
    *,
    negative: bool = False,
    cap: Decimal | None = None,
) -> Decimal:
    """The exact amount written in `text`, or MoneyError.

    Accepted: digits with an optional decimal point, like "12.50", "12.5" or "1000"; with
    `negative`, a leading "-" and nothing else ("-5.00", for refunds). Refused: anything
    else ("+5", "1e3", "1,000", ".5", " 5", "NaN"), zero, more decimals than the currency
    has, a sign the caller did not allow, and amounts whose size exceeds `cap`.
    """
    places = decimals(currency)
    match = _AMOUNT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        example = "1000" if places == 0 else "12." + "5" * places
        raise MoneyError(f"Write the amount as digits with a decimal point, like “{example}”.")
    sign, whole, fraction = match.groups()
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise MoneyError(f"The amount has more than {_MAX_WHOLE_DIGITS} digits before the "
                         "decimal point: no single entry is that large.")
    fraction = fraction or ""
    if len(fraction) > places:
        if places == 0:
            raise MoneyError(f"{currency} amounts have no decimals.")
        raise MoneyError(f"{currency} amounts have at most {places} decimals.")
    amount = Decimal(f"{sign}{whole}.{fraction or '0'}")
    if amount == 0:
        raise MoneyError("The amount cannot be zero.")
    if amount < 0 and not negative:
        raise MoneyError("The amount cannot be negative (a refund is recorded as a refund).")
    if amount > 0 and negative:
        raise MoneyError("A refund is a negative amount, like “-5.00”.")
    if cap is not None and abs(amount) > cap:
        raise MoneyError(
            f"{format_amount(to_minor(abs(amount), currency), currency)} is more than the "
            f"largest amount the site accepts in one entry ({cap:,} {currency})."
        )
    return amount


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units (12.50 EUR -> 1250); MoneyError rather than rounding."""
    scaled = amount.scaleb(decimals(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more decimals than {currency} has.")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """The exact amount of `minor` units (1250 EUR -> Decimal("12.50"))."""
    return Decimal(minor).scaleb(-decimals(currency))


def plain_amount(minor: int, currency: str) -> str:
    """`minor` as a plain decimal number, for CSV and JSON: "12.50", "-5.00", "1000", "1.250"."""
    places = decimals(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}"


def format_amount(minor: int, currency: str) -> str:
    """`minor` for people: thousands separated, every decimal of the currency shown,
    the code after it ("1,234.50 EUR", "5,000 JPY", "-0.250 KWD")."""
    places = decimals(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    digits = f"{whole:,}" + (f".{fraction:0{places}d}" if places else "")
    return f"{sign}{digits} {currency}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, as integer minor units. Adding two of different
    currencies raises: totals are kept per currency."""

    minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise MoneyError(f"{self.currency} and {other.currency} amounts are not added together.")
        return Money(self.minor + other.minor, self.currency)

    @property
    def amount(self) -> Decimal:
        return from_minor(self.minor, self.currency)

    @property
    def plain(self) -> str:
        return plain_amount(self.minor, self.currency)

    def __str__(self) -> str:
        return format_amount(self.minor, self.currency)
