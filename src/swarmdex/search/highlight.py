"""Mark the words of a text that a query matched, as HTML that is safe to show.

Highlighting is done here, on the original text, rather than by the index: the index holds
folded tokens ("ubuntu 24 04"), not what the uploader wrote ("Ubuntu.24.04"). Every piece
of user text goes through `markupsafe.escape`; the only markup added is `<mark>` around
escaped pieces, so a title like `<script>` stays text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

from swarmdex.search.query import Query, Term
from swarmdex.search.tokenize import Span, spans

__all__ = ["highlight", "matches", "snippet"]

_OPEN: Final = Markup("<mark>")
_CLOSE: Final = Markup("</mark>")
ELLIPSIS: Final = "\u2026"


def _matched(found: Sequence[Span], terms: Sequence[Term]) -> list[bool]:
    """For each span, whether it is part of a match of one of `terms`."""
    marked = [False] * len(found)
    words = [span.token for span in found]
    for term in terms:
        first, *rest = term.tokens
        size = len(term.tokens)
        # Where the term's first token stands (a result page runs this for 50 titles).
        if term.prefix and not rest:
            starts = [i for i, word in enumerate(words) if word.startswith(first)]
        else:
            starts = [i for i, word in enumerate(words) if word == first]
        for start in starts:
            if rest and not _term_at(words, start, term):
                continue
            marked[start : start + size] = [True] * size
    return marked


def _term_at(words: Sequence[str], start: int, term: Term) -> bool:
    if start + len(term.tokens) > len(words):
        return False
    last = len(term.tokens) - 1
    for offset, token in enumerate(term.tokens):
        word = words[start + offset]
        if word == token or (offset == last and term.prefix and word.startswith(token)):
            continue
        return False
    return True


def matches(text: str, query: Query) -> bool:
    """Whether any of the query's terms occurs in `text`."""
    return any(_matched(list(spans(text)), query.include))


def highlight(text: str, query: Query) -> Markup:
    """`text`, escaped, with the matched words in `<mark>`."""
    return _render(text, list(spans(text)), query, 0, len(text))


def snippet(text: str, query: Query, width: int = 120) -> Markup:
    """Like `highlight`, cut to about `width` characters around the first match."""
    found = list(spans(text))
    if len(text) <= width:
        return _render(text, found, query, 0, len(text))
    marked = _matched(found, query.include)
    first = next((span for span, hit in zip(found, marked, strict=True) if hit), None)
    center = first.start if first is not None else 0
    start = max(0, min(center - width // 3, len(text) - width))
    end = start + width
    out = _render(text, found, query, start, end, marked)
    return Markup("").join(
        [Markup(ELLIPSIS) if start else Markup(""), out, Markup(ELLIPSIS) if end < len(text) else Markup("")]
    )


def _render(
    text: str,
    found: Sequence[Span],
    query: Query,
    start: int,
    end: int,
    marked: list[bool] | None = None,
) -> Markup:
    if marked is None:
        marked = _matched(found, query.include)
    parts: list[Markup] = []
    position = start
    for span, hit in zip(found, marked, strict=True):
        if not hit or span.end <= start or span.start >= end:
            continue
        left, right = max(span.start, start), min(span.end, end)
        parts += [escape(text[position:left]), _OPEN, escape(text[left:right]), _CLOSE]
        position = right
    parts.append(escape(text[position:end]))
    return Markup("").join(parts)
