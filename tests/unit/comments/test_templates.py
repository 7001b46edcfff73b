"""The comment templates state the same limits as the rules they describe."""

from __future__ import annotations

from swarmdex.comments.services import EDIT_WINDOW, MAX_CHARS
from swarmdex.web.templates import TEMPLATES


def test_section_states_the_services_limits() -> None:
    # The section is included by the torrent page, whose context does not carry these.
    section = (TEMPLATES / "comments" / "section.html").read_text()
    assert section.count(f'maxlength="{MAX_CHARS}"') == 2
    assert f"Up to {MAX_CHARS:,} characters." in section
    assert f"edited for {int(EDIT_WINDOW.total_seconds()) // 60} minutes" in section
