"""The ledger's CSV: exact decimals, proper quoting, no formulas smuggled in."""

from __future__ import annotations

import csv
import io

import pytest

from swarmdex.donations.export import COLUMNS, ledger_csv, safe_cell
from swarmdex.donations.models import MessageStatus
from swarmdex.donations.money import Money
from swarmdex.donations.services import LedgerRow

from .conftest import at


def row(**fields: object) -> LedgerRow:
    base: dict[str, object] = dict(
        id=1, campaign_id=1, campaign_title="Lights", amount=Money(1250, "EUR"),
        received_at=at("2025-01-05"), donor_name="Ada", show_name=True, message="",
        message_status=MessageStatus.NONE, method="bank", reference="r-1", refund_of_id=None,
        entered_by="root", created_at=at("2025-01-06"), refundable=Money(1250, "EUR"),
    )
    return LedgerRow(**(base | fields))  # type: ignore[arg-type]


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_formula_cells_are_made_text(text: str | None, cell: str) -> None:
    assert safe_cell(text) == cell


def test_the_csv_round_trips_with_exact_decimals() -> None:
    rows = [
        row(),
        row(id=2, amount=Money(-500, "EUR"), refund_of_id=1, donor_name=None, refundable=None,
            reference=None, entered_by=None),
        row(id=3, amount=Money(5000, "JPY"), donor_name='Bob "the builder", Jr.\nline two'),
        row(id=4, amount=Money(1250, "KWD"), message="=cmd|'/C calc'!A0",
            message_status=MessageStatus.PENDING, campaign_title="-Drive", show_name=False),
    ]
    text = ledger_csv(rows)
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    parsed = parse(text)
    assert [(r["amount"], r["currency"]) for r in parsed] == [
        ("12.50", "EUR"), ("-5.00", "EUR"), ("5000", "JPY"), ("1.250", "KWD")]
    assert parsed[1]["refund_of"] == "1" and parsed[1]["donor_name"] == ""
    assert parsed[2]["donor_name"] == 'Bob "the builder", Jr.\nline two'
    assert parsed[3]["message"] == "'=cmd|'/C calc'!A0"
    assert parsed[3]["campaign"] == "'-Drive"
    assert (parsed[3]["name_shown"], parsed[3]["message_status"]) == ("no", "pending")
    assert parsed[0]["received_at"] == "2025-01-05T12:00:00+00:00"
