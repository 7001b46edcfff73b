"""Sizes as visitors type them in the size filter: "700M", "1.5 GiB", "4g", "123456"."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["SizeError", "parse_size"]

# Binary multiples whatever the spelling: the site shows sizes in KiB, MiB, GiB, like the
# BitTorrent clients, so "4G" here means what "4.0 GiB" means there.
_UNITS: Final = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE_RE: Final = re.compile(r"(\d{1,15}(?:[.,]\d{1,6})?)\s*([kmgtp]?)(?:i?b)?", re.IGNORECASE)
MAX_SIZE: Final = 1 << 62  # beyond any torrent, inside a signed 64-bit column


class SizeError(ValueError):
    """Not a size; the message is fit for the visitor."""


def parse_size(text: str | None) -> int | None:
    """Bytes for `text`; None when it is empty. Raises SizeError when it is not a size."""
    if text is None or not text.strip():
        return None
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise SizeError(f"{text.strip()[:40]!r} is not a size; write e.g. 700M or 4.5G.")
    number, unit = match.groups()
    return min(int(float(number.replace(",", ".")) * _UNITS[unit.lower()]), MAX_SIZE)
