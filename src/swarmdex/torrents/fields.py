"""What an uploader types next to the .torrent file: title, description, tags.

Each check raises `UploadError` with a sentence the uploader can act on. Text is kept as
typed (after trimming); the templates escape it and descriptions go through the Markdown
sanitiser, so nothing here needs to strip markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from swarmdex import deceptive
from swarmdex.db.models import Torrent, fold_name

__all__ = [
    "DESCRIPTION_MAX_CHARS",
    "TAG_MAX_CHARS",
    "TAG_MAX_COUNT",
    "TITLE_MAX_CHARS",
    "UploadError",
    "UploadTooLarge",
    "clean_description",
    "clean_tags",
    "clean_title",
    "split_tags",
]

TITLE_MAX_CHARS: Final = 255  # the column's size
DESCRIPTION_MAX_CHARS: Final = 50_000
TAG_MAX_COUNT: Final = 10
TAG_MAX_CHARS: Final = 32

# Control characters other than tab and newlines (which descriptions may contain).
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Tags end up in URLs (/tag/<name>) and feed names: letters, digits and . _ + - only.
_TAG_RE: Final = re.compile(r"[^\W_][\w.+-]*")
_BLANKS_RE: Final = re.compile(r"\s+")


class UploadError(ValueError):
    """An upload the site refuses; `str(error)` tells the uploader what is wrong.

    `existing` is the torrent already on the site when the upload is a duplicate.
    """

    def __init__(self, message: str, existing: Torrent | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing = existing


class UploadTooLarge(UploadError):
    """The request or the .torrent file is over the site's size limit."""


def clean_title(title: str | None, default: str) -> str:
    """The title to show: `title` trimmed, or the torrent's own name when left empty.

    A typed title may not hold characters that reorder or hide text; the torrent's name
    cannot be changed (the info hash covers it), so as a title it shows them spelled out.
    """
    text = _BLANKS_RE.sub(" ", title or "").strip()
    if not text:
        # The torrent's name is already validated; only its length may not fit.
        return deceptive.visible(default)[:TITLE_MAX_CHARS]
    if _CONTROL_RE.search(text):
        raise UploadError("The title contains control characters.")
    if (found := deceptive.problem(text)) is not None:
        raise UploadError(f"The title contains {found}.")
    if len(text) > TITLE_MAX_CHARS:
        raise UploadError(f"The title is {len(text)} characters long; at most {TITLE_MAX_CHARS} fit.")
    return text


def clean_description(description: str | None) -> str:
    """The Markdown description, trimmed; line endings normalised to \\n."""
    text = (description or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL_RE.search(text):
        raise UploadError("The description contains control characters.")
    if len(text) > DESCRIPTION_MAX_CHARS:
        raise UploadError(
            f"The description is {len(text):,} characters long; at most "
            f"{DESCRIPTION_MAX_CHARS:,} fit."
        )
    return text


def split_tags(text: str | None) -> list[str]:
    """Tags as typed in one comma-separated field."""
    return [part for part in (text or "").split(",") if part.strip()]


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags in their stored form, duplicates dropped, order kept.

    Case and width are folded ("Linux" and "LINUX" are one tag) and inner spaces become
    dashes ("open source" -> "open-source"), so the same tag is not split across spellings.
    """
    cleaned: dict[str, None] = {}
    for raw in tags:
        tag = _fold(raw)
        if not tag:
            continue
        if len(tag) > TAG_MAX_CHARS:
            raise UploadError(f"The tag {tag!r} is longer than {TAG_MAX_CHARS} characters.")
        if not _TAG_RE.fullmatch(tag):
            raise UploadError(
                f"The tag {tag!r} may use only letters, digits and . _ + - "
                "(and must start with a letter or digit)."
            )
        cleaned[tag] = None
    if len(cleaned) > TAG_MAX_COUNT:
        raise UploadError(f"{len(cleaned)} tags given; at most {TAG_MAX_COUNT} are allowed.")
    return list(cleaned)


def _fold(tag: str) -> str:
    return _BLANKS_RE.sub("-", fold_name(tag).strip())
