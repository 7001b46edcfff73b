"""The span of time the donations ledger accepts for campaign dates and entries.

Python's datetimes stop at the years 1 and 9999, and the figures do arithmetic on the dates
they are given (the next month of a monthly campaign, a deadline's next day, a time moved to
UTC), so a date near either end would overflow there, long after it was accepted. Nothing a
donations ledger records is before the Unix epoch or thousands of years away, so dates
outside this span are refused where they come in, with a message saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = ["EARLIEST", "LATEST", "OutOfRange", "check_time"]

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)  # exclusive


class OutOfRange(ValueError):
    """A date outside [EARLIEST, LATEST); the message can be shown as it is."""


def check_time(when: datetime, what: str) -> datetime:
    """`when` if it lies within the span (a naive time is read as UTC), else OutOfRange."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise OutOfRange(
            f"The {what} must be between {EARLIEST:%Y-%m-%d} and {LATEST.year - 1}-12-31."
        )
    return when
