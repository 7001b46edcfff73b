"""User-written Markdown to safe HTML: rendered with markdown-it-py, then sanitised with nh3.

Raw HTML in the source is not rendered at all, and the sanitiser runs on the result anyway,
so neither a parser quirk nor a future option can let markup through. Images are dropped:
a remote image would tell a third party the address of everyone who opens the page.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"align"}, "th": {"align"}}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def render_markdown(source: str) -> str:
    """Safe HTML for `source`. Links open nothing on their own and carry no referrer."""
    html = _parser().render(source)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "magnet"},
        link_rel="nofollow noopener noreferrer ugc",
    )


def plain_text(source: str) -> str:
    """The words of `source` without any markup, on one line: for excerpts and summaries,
    which are escaped again wherever they are shown."""
    words = nh3.clean(_parser().render(source), tags=set())  # drops tags, keeps their text
    return " ".join(html.unescape(words).split())
