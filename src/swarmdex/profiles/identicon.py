"""Generated avatars: a symmetric 5x5 pattern in one colour, as a small SVG document.

Profiles never show pictures from elsewhere: fetching a remote avatar (Gravatar and the like)
tells that host the address of everyone who opens the page, and an uploaded image is more to
store, scan and moderate. An identicon costs nothing and looks the same every time.

The pattern comes from `seed()`: an HMAC of the account's id under the site's secret, so it
survives a rename, and nobody can work out from an account's name (or from the picture) what
its id is or make a look-alike of someone else's on purpose.

The SVG is built from numbers only (no user text goes into it), has no script, style element
or link, and uses presentation attributes (`fill`), which the site's CSP permits in a served
image (`style-src 'self'` concerns style elements and attributes, not these).
"""

from __future__ import annotations

import colorsys
import hashlib
import hmac
from typing import Final

__all__ = ["GRID", "cells", "seed", "svg"]

GRID: Final = 5  # cells per side; the left half is mirrored onto the right
_CELL: Final = 10  # user units; the image scales to whatever size the page gives it
_MARGIN: Final = 5
_SIDE: Final = GRID * _CELL + 2 * _MARGIN


def seed(secret: bytes, user_id: int) -> bytes:
    """The 32 bytes an account's identicon is drawn from."""
    return hmac.new(secret, b"swarmdex identicon\x00%d" % user_id, hashlib.sha256).digest()


def _colour(seed: bytes) -> tuple[str, str]:
    """(foreground, background) hex colours: a hue from the seed, at a saturation and
    lightness that read well on light and dark pages alike."""
    hue = int.from_bytes(seed[:2], "big") / 65536
    saturation = 0.45 + seed[2] / 255 * 0.25
    fg = colorsys.hls_to_rgb(hue, 0.48, saturation)
    bg = colorsys.hls_to_rgb(hue, 0.93, saturation * 0.5)
    return _hex(fg), _hex(bg)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in rgb)


def cells(seed: bytes) -> list[tuple[int, int]]:
    """The (column, row) cells that are filled, left half mirrored to the right."""
    half = (GRID + 1) // 2
    bits = int.from_bytes(seed[3:7], "big")
    filled: list[tuple[int, int]] = []
    for row in range(GRID):
        for column in range(half):
            if bits >> (row * half + column) & 1:
                filled.append((column, row))
                if column != GRID - 1 - column:
                    filled.append((GRID - 1 - column, row))
    return sorted(filled)


def svg(seed: bytes, title: str = "") -> str:
    """The identicon as an SVG document. `title` (escaped here) becomes its <title>."""
    fg, bg = _colour(seed)
    rects = "".join(
        f'<rect x="{_MARGIN + column * _CELL}" y="{_MARGIN + row * _CELL}" '
        f'width="{_CELL}" height="{_CELL}"/>'
        for column, row in cells(seed)
    )
    heading = f"<title>{_escape(title)}</title>" if title else ""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {_SIDE} {_SIDE}" width="{_SIDE * 2}" height="{_SIDE * 2}" '
        f'role="img">{heading}'
        f'<rect width="{_SIDE}" height="{_SIDE}" fill="{bg}"/>'
        f'<g fill="{fg}" shape-rendering="crispEdges">{rects}</g></svg>'
    )


def _escape(text: str) -> str:
    """Text fit for an XML element: markup characters escaped, characters XML 1.0 cannot
    hold (controls, lone surrogates) dropped."""
    kept = "".join(
        c for c in text
        if c in "\t\n\r" or ("\x20" <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
        or c >= "\U00010000"
    )
    return kept.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
