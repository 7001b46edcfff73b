"""Title, description and tags as uploaders type them."""

from __future__ import annotations

import pytest

from swarmdex.torrents.fields import (
    TAG_MAX_CHARS,
    UploadError,
    clean_description,
    clean_tags,
    clean_title,
    split_tags,
)


def test_title_is_trimmed_and_defaults_to_the_name() -> None:
    assert clean_title("  Debian \t 12\n ", "debian.iso") == "Debian 12"
    assert clean_title(None, "debian.iso") == "debian.iso"
    assert clean_title("   ", "x" * 300) == "x" * 255  # a long name still fits the column


@pytest.mark.parametrize(
    ("title", "message"),
    [("a\x00b", "control characters"), ("é" * 256, "256 characters long; at most 255")],
)
def test_bad_titles_say_why(title: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        clean_title(title, "name")


def test_description_keeps_markdown_and_normalises_line_ends() -> None:
    assert clean_description("  # Notes\r\n\r\n* one\r* two\t \n") == "# Notes\n\n* one\n* two"
    assert clean_description(None) == ""
    with pytest.raises(UploadError, match="50,001 characters long; at most 50,000"):
        clean_description("x" * 50_001)
    with pytest.raises(UploadError, match="control characters"):
        clean_description("bell\x07")


def test_tags_are_folded_deduplicated_and_kept_in_order() -> None:
    typed = ["Linux", " LINUX ", "Open  Source", "\uff49\uff53\uff4f", "C++", "", "  ", "Straße", "strasse"]
    assert clean_tags(typed) == ["linux", "open-source", "iso", "c++", "strasse"]
    assert split_tags(" a, b ,,c ,") == [" a", " b ", "c "]
    assert split_tags(None) == []


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("<script>", "may use only letters"),
        ("a/b", "may use only letters"),
        ("-dash", "must start with a letter or digit"),
        ("_under", "must start with a letter or digit"),
        ("x" * (TAG_MAX_CHARS + 1), f"longer than {TAG_MAX_CHARS} characters"),
    ],
)
def test_bad_tags_say_why(tag: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        clean_tags([tag])


def test_at_most_ten_tags() -> None:
    assert len(clean_tags([f"t{i}" for i in range(10)])) == 10
    with pytest.raises(UploadError, match="11 tags given; at most 10"):
        clean_tags([f"t{i}" for i in range(11)])
