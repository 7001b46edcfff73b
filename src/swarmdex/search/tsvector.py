"""PostgreSQL `tsvector` and `tsquery` values made in Python from `tokenize`'s tokens.

PostgreSQL's own parser (`to_tsvector`) is not used: it splits words by the database's
locale (a `C` database would cut "Amélie" or any Cyrillic title apart) and treats `x264` or
`24.04` by rules of its own. Here the tokens are exactly the FTS5 backend's, and the values
are written in the types' input syntax, so both backends match the same words whatever the
database's locale. Lexemes are quoted; `tokenize` tokens hold only letters, digits and marks,
and quotes and backslashes would be escaped anyway.

A document vector numbers its tokens 1, 2, 3... field after field, leaving a gap between
fields so that a phrase never runs from the title into the name. Each lexeme carries the
weight of the field it first appears in most strongly (title A, name B, tags C, files D),
which ranking reads. PostgreSQL's limits are kept: positions up to 16,383 (later tokens are
still matched, as words, but not in phrases: the one place where this backend finds less
than FTS5, in the file lists of huge torrents), 256 positions per lexeme, and a whole value
under 1 MB (the file list is cut once a vector nears it; `MAX_INDEXED_FILES` keeps that rare).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from swarmdex.search.query import Query, Term

__all__ = ["MAX_VECTOR_BYTES", "Field", "document_vectors", "tsquery", "vector"]

MAX_POSITION: Final = 16_383
MAX_POSITIONS_PER_LEXEME: Final = 256
# PostgreSQL refuses a tsvector of 1 MB or more; keep well under it, counting generously.
MAX_VECTOR_BYTES: Final = 900_000

Field = tuple[str, str]  # (weight "A".."D", token text: tokens joined by single spaces)


def _quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(fields: Iterable[Field]) -> str:
    """A tsvector literal for `fields`, in order (see the module docstring)."""
    weights: dict[str, str] = {}
    positions: dict[str, list[int]] = {}
    size = 0
    position = 0
    for weight, text in fields:
        for token in text.split():
            position += 1
            known = positions.get(token)
            if known is None:
                cost = len(token.encode()) + 8
                if size + cost > MAX_VECTOR_BYTES:
                    continue  # the vector is full: later new words are not indexed
                size += cost
                known = positions[token] = []
                weights[token] = weight
            elif weight < weights[token]:
                weights[token] = weight  # "A" ranks highest
            if position <= MAX_POSITION and len(known) < MAX_POSITIONS_PER_LEXEME:
                if size + 2 > MAX_VECTOR_BYTES:
                    continue
                size += 2
                known.append(position)
        position += 1  # a gap between fields: no phrase across them
    parts = []
    for token, where in positions.items():
        if where:
            weight = weights[token]
            mark = "" if weight == "D" else weight  # D is the default weight
            parts.append(_quote(token) + ":" + ",".join(f"{p}{mark}" for p in where))
        else:
            parts.append(_quote(token))
    return " ".join(parts)


def document_vectors(title: str, name: str, tags: str, files: str) -> tuple[str, str]:
    """(names, everything): the vectors of a torrent's names, and of names and files.

    Arguments are token texts (`tokenize.token_text`); `tags` all tags' tokens together.
    """
    names = [("A", title), ("B", name), ("C", tags)]
    return vector(names), vector([*names, ("D", files)])


def _term(term: Term) -> str:
    words = [_quote(token) for token in term.tokens]
    if term.prefix:
        words[-1] += ":*"
    return words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"


def tsquery(query: Query) -> str:
    """A tsquery literal for `query`: every included term and none of the excluded ones.
    The caller checks `query.usable` first."""
    expression = " & ".join(_term(term) for term in query.include)
    if query.exclude:
        expression = f"({expression}) & !(" + " | ".join(_term(t) for t in query.exclude) + ")"
    return expression
