"""The ledger as CSV, for the operator's accounts (`/admin/donations.csv`).

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula, and a donor's
name or message is anyone's text: such text cells get a leading apostrophe, which shows as
nothing and makes the cell plain text (OWASP's advice against CSV injection). Amounts are
left as they are, "-5.00" included: we wrote them from exact integers, so they are numbers
and nothing else, and a refund must stay a negative number in the sheet.

Amounts are plain decimals with every place of their currency ("12.50", "1000" for JPY,
"1.250" for KWD), never floats; the currency has a column of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Final

from swarmdex.donations.services import LedgerRow

__all__ = ["COLUMNS", "ledger_csv", "safe_cell"]

COLUMNS: Final = (
    "id", "received_at", "campaign_id", "campaign", "amount", "currency", "refund_of",
    "donor_name", "name_shown", "message", "message_status", "method", "reference",
    "entered_by", "created_at",
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str | None) -> str:
    """`text` for a CSV cell that a spreadsheet will not run as a formula."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def ledger_csv(rows: Iterable[LedgerRow]) -> str:
    """The rows as CSV (RFC 4180: CRLF line ends, fields quoted when they need it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([
            row.id,
            row.received_at.isoformat(),
            row.campaign_id,
            safe_cell(row.campaign_title),
            row.amount.plain,
            row.amount.currency,
            row.refund_of_id or "",
            safe_cell(row.donor_name),
            "yes" if row.show_name else "no",
            safe_cell(row.message),
            row.message_status.value,
            safe_cell(row.method),
            safe_cell(row.reference),
            safe_cell(row.entered_by),
            row.created_at.isoformat(),
        ])
    return out.getvalue()
