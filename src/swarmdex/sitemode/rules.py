"""What each site mode allows.

- `open`: everything.
- `read-only`: browsing, searching and downloads work; uploads, registration, comments
  (on torrents and news) and reports are closed. Each route that writes one of these
  `Feature`s says so where it is declared (`swarmdex.web.sitemode.writes`), so no spelling
  of its address gets past: the route decides, not a pattern over paths.
- `closed`: every page answers 503 with the operator's notice, except the static files and
  what staff need to reopen the site (/login, /logout, /admin...: `stays_open`); the tracker
  answers every announce and scrape with the notice as its `failure reason`.
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = [
    "CLOSED_DEFAULT",
    "FEATURES",
    "LEVELS",
    "MODES",
    "NOTICE_MAX",
    "TRACKER_NOTICE_MAX",
    "Feature",
    "Level",
    "Mode",
    "ModeError",
    "check_level",
    "check_mode",
    "check_notice",
    "closed_message",
    "stays_open",
    "tracker_notice",
]

Mode = Literal["open", "read-only", "closed"]
Level = Literal["info", "warning"]
# What read-only mode closes, as the refusal names it.
Feature = Literal["Uploads", "Registration", "Comments", "Reports"]
FEATURES: Final[tuple[Feature, ...]] = ("Uploads", "Registration", "Comments", "Reports")
MODES: Final[tuple[Mode, ...]] = ("open", "read-only", "closed")
LEVELS: Final[tuple[Level, ...]] = ("info", "warning")
NOTICE_MAX: Final = 2000  # Markdown source; a banner, not an article
TRACKER_NOTICE_MAX: Final = 200  # a `failure reason` fits one UDP datagram with room to spare
CLOSED_DEFAULT: Final = "This site is closed for now."

# Paths that stay usable while the site is closed: what an admin needs to reopen it.
_STAYS_OPEN: Final = re.compile(r"/static/|/login$|/logout$|/admin(?:/|$)")

class ModeError(ValueError):
    """A mode or notice that cannot be used; the message can be shown to the admin."""


def check_mode(value: object) -> Mode:
    for mode in MODES:
        if value == mode:
            return mode
    raise ModeError("The site mode is open, read-only or closed.")


def check_level(value: object) -> Level:
    for level in LEVELS:
        if value == level:
            return level
    raise ModeError("The notice is either info or a warning.")


def check_notice(value: object) -> str:
    """Markdown source of the notice; empty means no banner."""
    if not isinstance(value, str):
        raise ModeError("The notice must be text.")
    text = value.strip().replace("\r\n", "\n")
    if len(text) > NOTICE_MAX:
        raise ModeError(f"The notice can be at most {NOTICE_MAX} characters long.")
    return text


def stays_open(path: str) -> bool:
    """Whether `path` is served while the site is closed."""
    return _STAYS_OPEN.match(path) is not None


def closed_message(feature: Feature | None) -> str:
    """What a refused request is told: `feature` closed by read-only mode, or (None) the
    whole site closed."""
    if feature is None:
        return CLOSED_DEFAULT
    verb = "is" if feature == "Registration" else "are"
    return f"{feature} {verb} closed for now: the site is read-only."


def tracker_notice(plain: str) -> str:
    """The `failure reason` the tracker gives while closed: the notice as one line of plain
    text (`plain` is the notice without markup), bounded, or a default."""
    text = " ".join(plain.split()) or CLOSED_DEFAULT
    if len(text) > TRACKER_NOTICE_MAX:
        text = text[: TRACKER_NOTICE_MAX - 1].rstrip() + "…"
    return text
