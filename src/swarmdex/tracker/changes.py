"""What the site tells the tracker: one small value per kind of change.

They travel in memory (`swarmdex.tracker.inprocess`) and as rows of the change feed
(`swarmdex.tracker.models.TrackerChange`), so they hold hashes and the closed notice only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Change", "Closed", "Listed", "Restored", "TakenDown", "Withdrawn"]


@dataclass(frozen=True, slots=True)
class Listed:
    """A torrent is on the site (uploaded, unhidden): in listed mode the tracker serves it."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A torrent left the site (deleted, hidden): refuse it and forget its peers, unless the
    tracker serves it for another reason (open mode, the operator's allowlist file)."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class TakenDown:
    """A torrent removed following a legal notice: refused in every mode, peers forgotten."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class Restored:
    """A takedown was lifted. `listed`: the torrent is on the site again, so serve it."""

    v1: bytes | None
    v2: bytes | None
    listed: bool


@dataclass(frozen=True, slots=True)
class Closed:
    """The site's closed mode: while `reason` is set every announce and scrape is refused
    with it as the `failure reason`; None serves again."""

    reason: str | None


Change = Listed | Withdrawn | TakenDown | Restored | Closed
