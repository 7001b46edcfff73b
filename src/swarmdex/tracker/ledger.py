"""Private mode: what each member uploaded and downloaded, from their announces, in memory.

A client reports running totals since it started the torrent. The ledger keeps, per
(member, swarm, peer_id), the totals of the last announce (the baseline) and credits the
difference. Keyed by peer_id, not by address: a client that announces over IPv4 and over
IPv6 (BEP 7) sends the same totals on both, so the second announce finds the baseline the
first one moved, and the member is credited once while listed in both swarms.

Rules, per announce:
- `started`, or a peer_id the ledger does not know: a new baseline, no credit (the totals
  before it are the client's business, not this tracker's).
- A total lower than the baseline: the client restarted; a new baseline, no credit, never a
  negative one.
- Credit is capped at `max_rate` bytes a second since the last announce (raw figures keep
  what was reported, for staff to see); a total past `MAX_REPORTED` is absurd: not credited.
- Seeding time: the time between two announces that both said `left = 0`, up to `stale_after`.
- Completed (a snatch): `completed`, or `left` reaching 0 from above; counted once per member
  and torrent by the database.
- `stopped`: credited, then the baseline is dropped.

Credit is merged per (member, swarm) until `take` hands it to the flush
(`swarmdex.private.accounting`), which writes it in one transaction every few seconds.
Sans-IO: no clock, no database; the caller passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from swarmdex.protocol.announce import Event

__all__ = ["MAX_REPORTED", "Credit", "Ledger"]

# Beyond 2**53 bytes (8 PiB) a total is not a client's: refused as absurd, never credited.
MAX_REPORTED: Final = 2**53


@dataclass(slots=True)
class _Baseline:
    uploaded: int
    downloaded: int
    left: int
    at: float


@dataclass(slots=True)
class Credit:
    """What one member did in one swarm since the last flush."""

    uploaded: int = 0  # credited (capped)
    downloaded: int = 0
    uploaded_raw: int = 0  # as reported
    downloaded_raw: int = 0
    seeding_seconds: float = 0.0
    completed_at: float | None = None
    seeder: bool = False  # as of the last announce
    last_seen: float = 0.0

    def merge(self, other: Credit) -> None:
        """Add `other` (later) to this one."""
        self.uploaded += other.uploaded
        self.downloaded += other.downloaded
        self.uploaded_raw += other.uploaded_raw
        self.downloaded_raw += other.downloaded_raw
        self.seeding_seconds += other.seeding_seconds
        if self.completed_at is None:
            self.completed_at = other.completed_at
        if other.last_seen >= self.last_seen:
            self.seeder, self.last_seen = other.seeder, other.last_seen


Key = tuple[int, bytes]  # (member, swarm key)


class Ledger:
    def __init__(self, *, max_rate: float, stale_after: float) -> None:
        self.max_rate = max_rate
        self.stale_after = stale_after
        self._baselines: dict[tuple[int, bytes, bytes], _Baseline] = {}
        self._pending: dict[Key, Credit] = {}
        # The peer ids each member has in each swarm (the clients-per-torrent rule).
        self._clients: dict[Key, set[bytes]] = {}

    def __len__(self) -> int:
        """Baselines held (peers being accounted)."""
        return len(self._baselines)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, user_id: int, swarm: bytes, peer_id: bytes, *, uploaded: int,
               downloaded: int, left: int, event: Event, now: float) -> None:
        """Account one announce the tracker answered."""
        credit = self._pending.get((user_id, swarm))
        if credit is None:
            credit = self._pending[(user_id, swarm)] = Credit()
        credit.seeder = left == 0
        credit.last_seen = now
        key = (user_id, swarm, peer_id)
        if max(uploaded, downloaded, left) >= MAX_REPORTED or min(uploaded, downloaded, left) < 0:
            return  # absurd: neither credited nor a baseline
        last = self._baselines.get(key)
        if last is None:
            if event is not Event.STOPPED:
                self._baselines[key] = _Baseline(uploaded, downloaded, left, now)
                self._clients.setdefault((user_id, swarm), set()).add(peer_id)
            return
        # The baseline moves to this announce (updated in place: no object per announce).
        up, down = uploaded - last.uploaded, downloaded - last.downloaded
        last_left, last_at = last.left, last.at
        last.uploaded, last.downloaded, last.left, last.at = uploaded, downloaded, left, now
        if event is Event.STOPPED:
            self._drop(key)
        if event is Event.STARTED or up < 0 or down < 0:
            return  # a new session, or the client restarted: the new baseline is set
        elapsed = max(0.0, now - last_at)
        cap = int(self.max_rate * max(elapsed, 1.0))
        credit.uploaded += min(up, cap)
        credit.downloaded += min(down, cap)
        credit.uploaded_raw += up
        credit.downloaded_raw += down
        if last_left == 0 and left == 0:
            credit.seeding_seconds += min(elapsed, self.stale_after)
        if credit.completed_at is None and (event is Event.COMPLETED or (last_left > 0 and left == 0)):
            credit.completed_at = now

    def take(self) -> dict[Key, Credit]:
        """The credit gathered since the last call, which the ledger forgets."""
        taken, self._pending = self._pending, {}
        return taken

    def give_back(self, credit: dict[Key, Credit]) -> None:
        """Credit a flush could not write: merged back, ahead of what came since."""
        for key, earlier in credit.items():
            later = self._pending.get(key)
            if later is not None:
                earlier.merge(later)
            self._pending[key] = earlier

    def crowded(self, user_id: int, swarm: bytes, peer_id: bytes, limit: int) -> bool:
        """Whether a new client `peer_id` would give the member more than `limit` in the swarm."""
        clients = self._clients.get((user_id, swarm))
        return clients is not None and len(clients) >= limit and peer_id not in clients

    def forget_stale(self, now: float) -> int:
        """Drop the baselines of peers silent for `stale_after` (gone without `stopped`)."""
        horizon = now - self.stale_after
        stale = [key for key, base in self._baselines.items() if base.at < horizon]
        for key in stale:
            self._drop(key)
        return len(stale)

    def _drop(self, key: tuple[int, bytes, bytes]) -> None:
        if self._baselines.pop(key, None) is None:
            return
        user_id, swarm, peer_id = key
        clients = self._clients.get((user_id, swarm))
        if clients is not None:
            clients.discard(peer_id)
            if not clients:
                del self._clients[(user_id, swarm)]
