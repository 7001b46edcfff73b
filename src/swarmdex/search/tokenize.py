"""Text to search tokens, the same way for what is indexed and for what is searched.

Release names glue words with dots, dashes and underscores (`Ubuntu.24.04.1-desktop_amd64`),
so a token is a run of letters and digits and everything else separates tokens:

    Ubuntu.24.04.1-desktop_amd64  ->  ubuntu 24 04 1 desktop amd64

Tokens are folded (NFKC, case folding, accents removed: "Amélie" finds "AMELIE") here, in
Python, rather than by the database's tokenizer, so that SQLite FTS5 and a future PostgreSQL
backend index exactly the same words. The index stores the tokens joined by single spaces;
FTS5's `unicode61` tokenizer then only has spaces to split on.

Version numbers are kept matchable both ways: `24.04` in a query becomes the two tokens
`24 04` required next to each other (a phrase), so it matches `24.04`, `24.04.1` and
`24_04`, while the query `24 04` (two words) matches them too. Letters and digits stay
together (`x264`, `amd64`, `h265`), as users type them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

__all__ = [
    "MAX_TOKEN_LENGTH",
    "Span",
    "fold",
    "paths_token_text",
    "spans",
    "token_text",
    "tokens",
    "unicode_spans",
]

# Longer runs are cut: nobody searches for 200 letters, and FTS5 indexes every token.
MAX_TOKEN_LENGTH: Final = 64


class Span(NamedTuple):
    """A token and where it came from in the original text (for highlighting)."""

    token: str
    start: int
    end: int


def _is_token_char(char: str) -> bool:
    # Letters and numbers of every script; marks too, so that a combining accent does not
    # split a word (it is folded away afterwards). Everything else separates.
    return unicodedata.category(char)[0] in "LNM"


def fold(word: str) -> str:
    """The indexed form of one word: NFKC, case-folded, accents removed."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", word).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFKC", bare)
    # Folding may leave characters that are not token characters (e.g. a lone mark's
    # compatibility form); drop them so a token never contains a separator.
    return "".join(c for c in folded if _is_token_char(c))[:MAX_TOKEN_LENGTH]


# ASCII text (most release names) needs none of the Unicode work: its token characters are
# letters and digits, and folding one of its words is lower-casing it.
_ASCII_TOKEN: Final = re.compile(r"[A-Za-z0-9]+")


def spans(text: str) -> Iterator[Span]:
    """Every token of `text` with its position, in order."""
    if text.isascii():
        for match in _ASCII_TOKEN.finditer(text):
            yield Span(match.group().lower()[:MAX_TOKEN_LENGTH], match.start(), match.end())
        return
    yield from unicode_spans(text)


def unicode_spans(text: str) -> Iterator[Span]:
    """`spans` for any text, character by character (what the ASCII path must agree with)."""
    start: int | None = None
    for i, char in enumerate(text):
        if _is_token_char(char):
            if start is None:
                start = i
        elif start is not None:
            yield from _span(text, start, i)
            start = None
    if start is not None:
        yield from _span(text, start, len(text))


def _span(text: str, start: int, end: int) -> Iterator[Span]:
    token = fold(text[start:end])
    if token:
        yield Span(token, start, end)


def tokens(text: str) -> list[str]:
    """`Ubuntu.24.04.1-desktop_amd64` -> `['ubuntu', '24', '04', '1', 'desktop', 'amd64']`."""
    return [span.token for span in spans(text)]


def token_text(text: str) -> str:
    """What the index stores for `text`: its tokens joined by single spaces."""
    return " ".join(tokens(text))


def paths_token_text(paths: Iterable[str]) -> str:
    """What the index stores for a torrent's file paths: one token text for them all.

    One line per path would read better, but spaces are what FTS5 splits on; a phrase may
    then run from one path into the next, which is harmless.
    """
    return " ".join(token_text(path) for path in paths)
