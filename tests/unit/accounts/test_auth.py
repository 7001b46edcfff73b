"""Pieces of swarmdex.web.auth that need no running site."""

from __future__ import annotations

import pytest

from swarmdex.web.auth import safe_next


@pytest.mark.parametrize(
    "value", ["/", "/account", "/t/abc?x=1&y=2", "/search?q=ubuntu%2024.04#top"]
)
def test_paths_on_this_site_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "account",
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\tevil",
        "/ok\r\nSet-Cookie: x=1",
        "/a b",
    ],
)
def test_anything_else_goes_home(value: str | None) -> None:
    assert safe_next(value) == "/"
