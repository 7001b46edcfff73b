"""What the site tells the tracker: one small value per kind of change.

They travel in memory (`swarmdex.tracker.inprocess`) and as rows of the change feed
(`swarmdex.tracker.models.TrackerChange`), so they hold hashes, the closed notice and, in
private mode, member ids with the SHA-256 of their passkeys (never a passkey).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Change", "Closed", "Leech", "Listed", "Member", "Restored", "TakenDown", "Withdrawn"]


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


@dataclass(frozen=True, slots=True)
class Member:
    """Private mode: what the tracker knows of one member, replacing what it knew. `key` is
    the SHA-256 of the member's passkey (None: no passkey serves them: a disabled or deleted
    account, or none made yet); announces with it are refused until `banned_until` (Unix
    time; None: not banned; `math.inf`: for good)."""

    user_id: int
    key: bytes | None
    banned_until: float | None = None


@dataclass(frozen=True, slots=True)
class Leech:
    """Private mode: whether a member may start downloads. `refusal` (the failure reason,
    e.g. a ratio under the site's minimum) refuses announces that start a download; None
    lets them. Seeding is never refused for it."""

    user_id: int
    refusal: str | None


Change = Listed | Withdrawn | TakenDown | Restored | Closed | Member | Leech
