"""Release names split into the tokens users type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.search.tokenize import MAX_TOKEN_LENGTH, spans, token_text, tokens, unicode_spans


def test_release_name_splits_on_dots_dashes_and_underscores() -> None:
    assert tokens("Ubuntu.24.04.1-desktop_amd64") == ["ubuntu", "24", "04", "1", "desktop", "amd64"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Big Buck Bunny (2008) [1080p]", ["big", "buck", "bunny", "2008", "1080p"]),
        ("debian-12.5.0-amd64-netinst.iso", ["debian", "12", "5", "0", "amd64", "netinst", "iso"]),
        ("x264 h.265 AAC5.1", ["x264", "h", "265", "aac5", "1"]),
        ("Amélie ÉTÉ", ["amelie", "ete"]),  # accents folded
        ("Straße", ["strasse"]),  # case folding, not just lowercasing
        ("\uff35\uff22\uff35\uff2e\uff34\uff35\uff12\uff14", ["ubuntu24"]),  # full-width forms
        ("日本語 テスト", ["日本語", "テスト"]),
        ("a/b\\c|d+e&f", ["a", "b", "c", "d", "e", "f"]),
        ("", []),
        ("... --- ___", []),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_index_text_is_tokens_joined_by_spaces() -> None:
    assert token_text("Arch.Linux-2024.05.01") == "arch linux 2024 05 01"


def test_spans_point_into_the_original_text() -> None:
    text = "Ubuntu.24.04 <Desktop>"
    assert [(s.token, text[s.start : s.end]) for s in spans(text)] == [
        ("ubuntu", "Ubuntu"), ("24", "24"), ("04", "04"), ("desktop", "Desktop"),
    ]


def test_overlong_runs_are_cut() -> None:
    assert tokens("a" * 500) == ["a" * MAX_TOKEN_LENGTH]


@given(st.text())
def test_any_text_gives_clean_tokens(text: str) -> None:
    # What FTS5's unicode61 sees must split on the spaces we put, and only there.
    for token in tokens(text):
        assert token
        assert not any(c.isspace() or c in "\"*:^(){}+-" for c in token)
    assert token_text(token_text(text)) == token_text(text)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_path_agrees_with_the_unicode_one(text: str) -> None:
    assert list(spans(text)) == list(unicode_spans(text))


def test_the_ascii_path_cuts_long_runs_too() -> None:
    text = "x" * 100 + ".Y"
    assert list(spans(text)) == list(unicode_spans(text)) == [("x" * 64, 0, 100), ("y", 101, 102)]
