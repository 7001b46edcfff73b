"""Highlighting marks matched words and nothing a visitor wrote is ever markup."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup, escape

from swarmdex.search.highlight import highlight, matches, snippet
from swarmdex.search.query import parse


def test_marks_matched_words_in_the_original_text() -> None:
    shown = highlight("Ubuntu.24.04.1-desktop_amd64", parse("ubuntu 24.04 desk"))
    assert shown == Markup(
        "<mark>Ubuntu</mark>.<mark>24</mark>.<mark>04</mark>.1-<mark>desktop</mark>_amd64"
    )


def test_user_text_is_escaped_before_marking() -> None:
    title = '<script>alert("x")</script> ubuntu & <b>'
    shown = highlight(title, parse("script ubuntu"))
    assert "<script>" not in shown and "<b>" not in shown
    assert shown == Markup(
        "&lt;<mark>script</mark>&gt;alert(&#34;x&#34;)&lt;/<mark>script</mark>&gt; "
        "<mark>ubuntu</mark> &amp; &lt;b&gt;"
    )


def test_phrase_marks_only_adjacent_words() -> None:
    shown = highlight("server install, install server", parse('"install server"'))
    assert shown == Markup("server install, <mark>install</mark> <mark>server</mark>")


def test_excluded_words_are_not_marked() -> None:
    assert highlight("ubuntu beta", parse("ubuntu -beta")) == Markup("<mark>ubuntu</mark> beta")


def test_matches() -> None:
    assert matches("casper/vmlinuz", parse("vmlinuz"))
    assert not matches("casper/initrd", parse("vmlinuz"))


def test_snippet_centres_on_the_match() -> None:
    path = "a/" * 200 + "ubuntu.iso" + "/b" * 200
    shown = snippet(path, parse("ubuntu"), width=60)
    assert shown.startswith("\u2026") and shown.endswith("\u2026")
    assert "<mark>ubuntu</mark>.iso" in shown
    assert len(shown.striptags()) < 70


@given(st.text(max_size=80), st.text(max_size=30))
def test_only_mark_tags_are_added(text: str, query: str) -> None:
    shown = str(highlight(text, parse(query)))
    assert shown.replace("<mark>", "").replace("</mark>", "") == str(escape(text))
