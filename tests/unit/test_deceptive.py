"""One check for text that reads differently from what it is, shared by every name people read."""

from __future__ import annotations

import pytest

from swarmdex import deceptive
from swarmdex.profiles.services import clean_display_name
from swarmdex.torrents.fields import UploadError, clean_title


def test_overrides_and_invisible_characters_are_named_and_written_out() -> None:
    assert deceptive.problem("invoice\u202efdp.exe\u200b") == (
        "characters that change the direction of text or cannot be seen (U+200B, U+202E)"
    )
    assert deceptive.visible("invoice\u202efdp.exe") == "invoice<U+202E>fdp.exe"
    # Joiners are part of Persian words and emoji: left alone.
    for text in ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\U0001f469\u200d\U0001f4bb", "plain.pdf"):
        assert deceptive.problem(text) is None
        assert deceptive.visible(text) == text


def test_display_names_and_titles_refuse_them_alike() -> None:
    with pytest.raises(ValueError, match=r"display name contains .*\(U\+200B\)"):
        clean_display_name("ad\u200bmin")
    with pytest.raises(UploadError, match=r"title contains .*\(U\+2066\)"):
        clean_title("\u2066hidden", "name")
    assert clean_title("", "invoice\u202efdp.exe") == "invoice<U+202E>fdp.exe"
