"""tsvector and tsquery literals made in Python (the PostgreSQL search backend's input).

What they match is tested on a real PostgreSQL by the search services' tests, which run on
both databases; these tests pin the literals' shape and PostgreSQL's limits.
"""

from __future__ import annotations

from swarmdex.search.query import parse
from swarmdex.search.tsvector import (
    MAX_POSITION,
    MAX_POSITIONS_PER_LEXEME,
    MAX_VECTOR_BYTES,
    document_vectors,
    tsquery,
    vector,
)


def test_fields_are_numbered_in_order_with_a_gap_between_them() -> None:
    assert vector([("A", "ubuntu 24 04"), ("B", "ubuntu desktop")]) == (
        "'ubuntu':1A,5A '24':2A '04':3A 'desktop':6B"
    )


def test_the_default_weight_is_not_written() -> None:
    assert vector([("D", "a b a")]) == "'a':1,3 'b':2"


def test_names_leave_out_the_files_and_everything_has_them() -> None:
    names, everything = document_vectors("debian", "debian 12", "linux", "docs readme")
    assert "docs" not in names and "'docs':" in everything
    assert names.startswith("'debian':1A,3A")


def test_quotes_and_backslashes_are_escaped() -> None:
    assert vector([("A", "it's a\\b")]) == "'it''s':1A 'a\\\\b':2A"


def test_positions_stop_at_postgresqls_limit_but_words_are_still_indexed() -> None:
    text = " ".join(f"w{i}" for i in range(MAX_POSITION + 10))
    literal = vector([("D", text)])
    assert f"'w{MAX_POSITION - 1}':{MAX_POSITION}" in literal
    assert f"'w{MAX_POSITION + 5}'" in literal and f"'w{MAX_POSITION + 5}':" not in literal


def test_a_lexeme_keeps_at_most_256_positions() -> None:
    literal = vector([("D", " ".join(["flac"] * 1000))])
    assert literal.count(",") == MAX_POSITIONS_PER_LEXEME - 1


def test_a_huge_file_list_is_cut_under_a_megabyte() -> None:
    text = " ".join(f"file{i:07d}name" for i in range(200_000))
    literal = vector([("A", "title"), ("D", text)])
    assert len(literal.encode()) < 1_500_000  # what PostgreSQL stores is smaller still
    assert "'title':1A" in literal
    assert MAX_VECTOR_BYTES < 1_000_000


def test_queries_quote_every_token() -> None:
    assert tsquery(parse("ubuntu 24.04 desk")) == "'ubuntu' & ('24' <-> '04') & 'desk':*"
    assert tsquery(parse('"server install" amd6* -beta -"release candidate"')) == (
        "(('server' <-> 'install') & 'amd6':*) & !('beta' | ('release' <-> 'candidate'))"
    )
    assert tsquery(parse("it's")) == "('it' <-> 's')"
