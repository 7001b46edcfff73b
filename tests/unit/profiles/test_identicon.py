"""Identicons: the same account always gets the same picture, a valid SVG with nothing in it
that could run, load or style anything."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from swarmdex.profiles import identicon

SVG = "{http://www.w3.org/2000/svg}"
SECRET = bytes(range(32))


def test_deterministic_per_account_and_secret() -> None:
    first = identicon.svg(identicon.seed(SECRET, 1))
    assert identicon.svg(identicon.seed(SECRET, 1)) == first
    assert identicon.svg(identicon.seed(SECRET, 2)) != first
    assert identicon.svg(identicon.seed(bytes(32), 1)) != first  # another site, another face


def test_patterns_are_mirrored_and_differ_between_accounts() -> None:
    patterns = set()
    for user_id in range(1, 200):
        cells = identicon.cells(identicon.seed(SECRET, user_id))
        assert cells == sorted((identicon.GRID - 1 - c, r) for c, r in cells)
        patterns.add(tuple(cells))
    assert len(patterns) > 190  # 2**15 patterns: collisions among 199 are rare


def test_valid_svg_with_nothing_active() -> None:
    text = identicon.svg(identicon.seed(SECRET, 7), title="alice")
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 60 60"
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "g"}
    for element in root.iter():
        for name in element.attrib:
            assert not name.startswith("on") and name not in ("style", "href")
    assert root.find(f"{SVG}title").text == "alice"  # type: ignore[union-attr]
    fills = [element.get("fill") for element in root.iter() if element.get("fill")]
    assert len(fills) == 2 and all(len(f) == 7 and f.startswith("#") for f in fills)


def test_title_is_escaped() -> None:
    text = identicon.svg(identicon.seed(SECRET, 1), title='<script>"&\x00')
    root = ET.fromstring(text)  # still well-formed
    assert root.find(f"{SVG}title").text == '<script>"&'  # type: ignore[union-attr]
    assert "<script>" not in text
