"""Hypothesis settings and strategies shared by the wire protocol tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from swarmdex.protocol.announce import AnnounceRequest, Event

FAST = settings(max_examples=100, deadline=None)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HASHES = st.binary(min_size=20, max_size=20)


def announce_requests(
    *,
    counters: st.SearchStrategy[int],
    numwant: st.SearchStrategy[int | None],
    ip: st.SearchStrategy[bytes | None],
    **extra: st.SearchStrategy[Any],
) -> st.SearchStrategy[AnnounceRequest]:
    """Requests that one wire format carries unchanged. Hashes, port and event travel alike on
    every wire; what the wire allows for uploaded/downloaded/left (`counters`), numwant and ip,
    and which further fields it carries (`extra`), is the wire's own."""
    return st.builds(
        AnnounceRequest,
        info_hash=HASHES,
        peer_id=HASHES,
        port=st.integers(1, 65535),
        uploaded=counters,
        downloaded=counters,
        left=counters,
        event=st.sampled_from(Event),
        numwant=numwant,
        ip=ip,
        **extra,
    )
