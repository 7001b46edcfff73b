"""The takedown blocklist: refused in every mode, by v1, v2 and truncated v2, with its own reason."""

from __future__ import annotations

import pytest

from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.hooks import EitherList, ListedTorrents, TakenDown
from swarmdex.tracker.logic import TAKEN_DOWN

from .test_logic import H1, announce, make, now, request

V1 = b"\x33" * 20
V2 = b"\x44" * 32


def test_blocklist_holds_v1_and_truncated_v2() -> None:
    blocked = TakenDown()
    blocked.add(V1, V2)
    assert V1 in blocked and V2[:20] in blocked and H1 not in blocked
    assert len(blocked) == 2
    blocked.remove(V1, V2)
    assert V1 not in blocked and V2[:20] not in blocked and len(blocked) == 0


def test_blocklist_of_a_v2_only_torrent() -> None:
    blocked = TakenDown()
    blocked.add(None, V2)
    assert V2[:20] in blocked


@pytest.mark.parametrize("mode", ["open", "listed"])
def test_taken_down_hashes_are_refused_with_their_reason(mode: str) -> None:
    listed = ListedTorrents()
    listed.add(V1, V2)
    tracker = make(allowlist=EitherList(listed) if mode == "listed" else None)
    announce(tracker, request(V1))  # served before the takedown
    tracker.taken_down.add(V1, V2)
    for h in (V1, V2[:20]):
        with pytest.raises(ProtocolError) as refused:
            announce(tracker, request(h))
        assert str(refused.value) == TAKEN_DOWN
    assert "legal notice" in TAKEN_DOWN
    # Scrapes read zeros; other torrents are untouched.
    assert [c.complete + c.incomplete for c in now(tracker.scrape([V1]))] == [0]
    if mode == "open":
        announce(tracker, request(H1))
    tracker.taken_down.remove(V1, V2)
    announce(tracker, request(V1))
