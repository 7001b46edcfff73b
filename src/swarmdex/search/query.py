"""The search box's little language, parsed into tokens the backends can match.

    ubuntu 24.04 desk        every word must match; the last word typed is a prefix
                             ("desk" finds "desktop"), so results follow typing
    "server install"         a phrase: these words, next to each other, in this order
    amd6*                    an explicit prefix
    -beta  -"release candidate"
                             leave out what matches

A word that splits into several tokens (`24.04`, `Ubuntu.24.04-desktop`) is matched as a
phrase, which keeps release names and version numbers precise (see `tokenize`).

Parsing never fails: characters that cannot be searched are dropped, an unterminated quote
runs to the end, stray `*` and `-` are ignored. What is left may be empty; `Query.usable`
says whether there is anything to look for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from swarmdex.search.tokenize import tokens

__all__ = ["MAX_QUERY_LENGTH", "MAX_TERMS", "Query", "Term", "parse"]

# Bounds on the work one query can ask of the index.
MAX_QUERY_LENGTH: Final = 256
MAX_TERMS: Final = 12
MAX_PHRASE_TOKENS: Final = 16
# The implicit prefix on the last word needs this many characters: "a*" would read the
# postings of every word starting with "a" while the visitor is still typing.
IMPLICIT_PREFIX_MIN: Final = 2

_QUOTES: Final = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c", "\u00ab": "\u00bb"}


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to match: a token, or tokens next to each other in order (a phrase).
    `prefix`: the last token may be the start of a longer one."""

    tokens: tuple[str, ...]
    prefix: bool = False
    # The prefix is the last word's, not asked for with `*` (a backend may settle it; two
    # terms that differ only in this match the same).
    implicit: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        text = " ".join(self.tokens) + ("*" if self.prefix else "")
        return f'"{text}"' if len(self.tokens) > 1 else text


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # what was typed, trimmed
    include: tuple[Term, ...]
    exclude: tuple[Term, ...] = ()

    @property
    def usable(self) -> bool:
        """Whether there is something to look for (exclusions alone are not a search)."""
        return bool(self.include)

    def __str__(self) -> str:
        return " ".join([str(t) for t in self.include] + [f"-{t}" for t in self.exclude])


@dataclass(slots=True)
class _Raw:
    text: str
    negated: bool
    quoted: bool
    starred: bool


def parse(text: str) -> Query:
    """Parse what a visitor typed; never raises."""
    text = text.strip()[:MAX_QUERY_LENGTH]
    raws = _lex(text)
    include: list[Term] = []
    exclude: list[Term] = []
    for raw in raws:
        found = tuple(tokens(raw.text))[:MAX_PHRASE_TOKENS]
        if not found or len(include) + len(exclude) >= MAX_TERMS:
            continue
        term = Term(found, prefix=raw.starred)
        target = exclude if raw.negated else include
        if term not in target:
            target.append(term)
    if raws and include and _implicit_prefix(raws[-1], include[-1]):
        include[-1] = Term(include[-1].tokens, prefix=True, implicit=True)
    return Query(text, tuple(include), tuple(exclude))


def _implicit_prefix(last: _Raw, term: Term) -> bool:
    """Whether the query ends with a plain word still being typed, which `term` came from.

    Not after a phrase or an exclusion, and not on a number: "ubuntu 24" should not find
    "240" and "2400".
    """
    if last.negated or last.quoted or last.starred:
        return False
    if term.tokens != tuple(tokens(last.text))[:MAX_PHRASE_TOKENS]:
        return False
    final = term.tokens[-1]
    return len(final) >= IMPLICIT_PREFIX_MIN and not final.isdigit()


def _lex(text: str) -> list[_Raw]:
    raws: list[_Raw] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        close = _QUOTES.get(text[i])
        if close is not None:
            end = text.find(close, i + 1)
            if end < 0:
                end = n
            body, i = text[i + 1 : end], end + 1
            starred = i < n and text[i] == "*"
            while i < n and not text[i].isspace():
                i += 1  # `"a b"*x`: whatever is glued to the closing quote is dropped
            raws.append(_Raw(body, negated, quoted=True, starred=starred))
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        word = text[start:i]
        raws.append(_Raw(word.rstrip("*"), negated, quoted=False, starred=word.endswith("*")))
    return raws
