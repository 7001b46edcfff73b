"""The search box's language: words, phrases, prefixes, exclusions, and garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.search.query import MAX_QUERY_LENGTH, MAX_TERMS, Term, parse


def test_words_must_all_match_and_the_last_is_a_prefix() -> None:
    query = parse("ubuntu desk")
    assert query.include == (Term(("ubuntu",)), Term(("desk",), prefix=True))
    assert query.exclude == ()


def test_a_dotted_word_is_a_phrase() -> None:
    assert parse("24.04 ubuntu").include[0] == Term(("24", "04"))


def test_release_name_query() -> None:
    query = parse("ubuntu 24.04 desktop")
    assert query.include == (
        Term(("ubuntu",)), Term(("24", "04")), Term(("desktop",), prefix=True),
    )


def test_quoted_phrase_and_explicit_prefix() -> None:
    query = parse('"server install" amd6* linux')
    assert query.include == (
        Term(("server", "install")), Term(("amd6",), prefix=True), Term(("linux",), prefix=True),
    )
    assert parse('"desktop amd"*').include == (Term(("desktop", "amd"), prefix=True),)


def test_exclusions() -> None:
    query = parse('ubuntu -beta -"release candidate"')
    assert query.include == (Term(("ubuntu",)),)
    assert query.exclude == (Term(("beta",)), Term(("release", "candidate")))


@pytest.mark.parametrize(
    ("text", "last_is_prefix"),
    [
        ("ubuntu 24", False),  # numbers: "24" must not find "240"
        ("ubuntu d", False),  # one letter: too broad to expand
        ('ubuntu "desktop"', False),  # a quoted word is exact
        ("desktop -beta", False),  # the query ends with an exclusion
        ("ubuntu de", True),
    ],
)
def test_implicit_prefix_only_on_a_plain_last_word(text: str, last_is_prefix: bool) -> None:
    assert parse(text).include[-1].prefix is last_is_prefix


def test_a_dash_inside_a_word_is_not_an_exclusion() -> None:
    assert parse("ubuntu-desktop").include == (Term(("ubuntu", "desktop"), prefix=True),)
    assert parse("ubuntu - desktop").exclude == ()


def test_unterminated_quote_runs_to_the_end() -> None:
    assert parse('"ubuntu desktop').include == (Term(("ubuntu", "desktop")),)


def test_curly_quotes_make_phrases() -> None:
    assert parse("\u201cserver install\u201d").include == (Term(("server", "install")),)


@pytest.mark.parametrize("text", ["", "   ", "-", "***", '""', "- - -", "-ubuntu", "\x00\x01", "NOT", "()"])
def test_nothing_to_look_for(text: str) -> None:
    assert parse(text).usable is (text == "NOT")


def test_fts_keywords_are_plain_words() -> None:
    assert parse("NEAR OR AND NOT").include[0] == Term(("near",))


def test_bounds() -> None:
    many = " ".join(f"w{i}" for i in range(50))
    query = parse(many)
    assert len(query.include) == MAX_TERMS
    assert len(parse("x" * 10_000).text) == MAX_QUERY_LENGTH


def test_duplicates_count_once() -> None:
    assert parse("linux Linux LINUX iso").include == (Term(("linux",)), Term(("iso",), prefix=True))


@given(st.text(max_size=300))
def test_any_text_parses(text: str) -> None:
    query = parse(text)
    for term in (*query.include, *query.exclude):
        assert term.tokens and all(term.tokens)
    str(query)
