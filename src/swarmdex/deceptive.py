"""Characters that make text read differently from what it is.

Bidirectional overrides, embeddings, isolates and marks reorder what follows them
("invoice\\u202efdp.exe" shows as "invoiceexe.pdf"); zero-width spaces and joiners of words
hide inside names so that two different names look the same. Text people type (display
names, titles) may not contain them: `problem` says so. Text that cannot be changed (the
names inside a .torrent, fixed by its info hash) is shown with them spelled out
(`visible`), so that what a visitor reads is what is there.

Zero-width joiner and non-joiner (U+200C, U+200D) are not here: Persian, the Indic scripts
and emoji sequences need them, and they reorder nothing.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DECEPTIVE", "problem", "visible"]

DECEPTIVE: Final = frozenset(
    "\u061c"  # Arabic letter mark
    "\u200e\u200f"  # left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, pop, overrides
    "\u2066\u2067\u2068\u2069"  # isolates
    "\u200b"  # zero-width space
    "\u2060\u2061\u2062\u2063\u2064"  # word joiner, invisible operators
    "\ufeff"  # zero-width no-break space (a byte order mark mid-text)
    "\u180e"  # Mongolian vowel separator, zero-width in current Unicode
)
_DECEPTIVE_RE: Final = re.compile("[" + "".join(sorted(DECEPTIVE)) + "]")


def problem(text: str) -> str | None:
    """What is wrong with `text` for a name people read ("characters that change the
    direction of text ..."), or None when it holds none of these characters."""
    found = sorted({f"U+{ord(c):04X}" for c in _DECEPTIVE_RE.findall(text)})
    if not found:
        return None
    return (
        "characters that change the direction of text or cannot be seen ("
        + ", ".join(found) + ")"
    )


def visible(text: str) -> str:
    """`text` with each of these characters written out as <U+XXXX>."""
    return _DECEPTIVE_RE.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)
