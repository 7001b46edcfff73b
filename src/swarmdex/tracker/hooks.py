"""Policy the tracker asks about on every announce: which torrents it serves.

The index feeds these in process (no polling table, no stale list): adding a torrent makes
it announceable at once, removing it refuses it at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Allowlist(Protocol):
    def resolve(self, info_hash: bytes) -> bytes | None:
        """The swarm key for an announced 20-byte hash, or None if it is not served.

        A hybrid torrent is announced under its v1 hash and its truncated v2 hash; both
        resolve to one key so that its peers meet and its counts are whole.
        """
        ...


class OpenTracker:
    """`open` mode: any hash is served, each its own swarm."""

    def resolve(self, info_hash: bytes) -> bytes | None:
        return info_hash


class EitherList:
    """Serves what any of its lists serves (the site's torrents, an operator's file)."""

    def __init__(self, *lists: Allowlist) -> None:
        self.lists = lists

    def resolve(self, info_hash: bytes) -> bytes | None:
        for allowlist in self.lists:
            key = allowlist.resolve(info_hash)
            if key is not None:
                return key
        return None


class ListedTorrents:
    """`listed` mode: only the torrents added here are served.

    A site may list millions of torrents, so this keeps one dict entry per announced hash
    (hash -> swarm key) and a second, small dict only for hybrids (each of the two hashes ->
    the other), instead of a tuple per torrent.
    """

    def __init__(self) -> None:
        self._keys: dict[bytes, bytes] = {}  # announced 20-byte hash -> swarm key
        self._partner: dict[bytes, bytes] = {}  # a hybrid's hash -> its other hash
        self._count = 0

    def resolve(self, info_hash: bytes) -> bytes | None:
        return self._keys.get(info_hash)

    def __len__(self) -> int:
        return self._count

    def add(self, v1: bytes | None = None, v2: bytes | None = None) -> bytes:
        """Serve a torrent by its v1 (20-byte) and/or v2 (32-byte) hash; return its swarm key."""
        if (v1 is None and v2 is None) or (v1 is not None and len(v1) != 20) or (
            v2 is not None and len(v2) != 32
        ):
            raise ValueError("need a 20-byte v1 hash and/or a 32-byte v2 hash")
        hashes = [h for h in (v1, v2[:20] if v2 else None) if h]
        for h in hashes:
            if h in self._keys:
                self.remove(h)  # re-adding replaces, it never leaves half a torrent behind
        key = hashes[0]
        for h in hashes:
            self._keys[h] = key
        if len(hashes) == 2:
            self._partner[hashes[0]], self._partner[hashes[1]] = hashes[1], hashes[0]
        self._count += 1
        return key

    def remove(self, v1: bytes | None = None, v2: bytes | None = None) -> bytes | None:
        """Stop serving a torrent given any of its hashes; return its swarm key if it was
        served (the caller drops the swarm). A hybrid goes as a whole."""
        for h in (v1, v2[:20] if v2 else None):
            key = self._keys.get(h) if h else None
            if key is not None:
                partner = self._partner.pop(key, None)
                if partner is not None:
                    del self._partner[partner]
                    del self._keys[partner]
                del self._keys[key]
                self._count -= 1
                return key
        return None

    def replace(self, other: ListedTorrents) -> set[bytes]:
        """Serve exactly what `other` serves; return the swarm keys no longer served."""
        gone = set(self._keys.values()) - set(other._keys.values())
        self._keys = dict(other._keys)
        self._partner = dict(other._partner)
        self._count = other._count
        return gone

    def load(self, path: Path) -> int:
        """Add every hash in a text file: one torrent a line, `V1HEX`, `V2HEX` or both
        separated by a space (a hybrid). Blank lines and `#` comments are skipped."""
        count = 0
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            v1 = v2 = None
            for word in words:
                try:
                    raw = bytes.fromhex(word)
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: not a hex info hash: {word!r}") from None
                if len(raw) == 20 and v1 is None:
                    v1 = raw
                elif len(raw) == 32 and v2 is None:
                    v2 = raw
                else:
                    raise ValueError(f"{path}:{lineno}: expected a 40-hex v1 and/or 64-hex v2 hash")
            self.add(v1, v2)
            count += 1
        return count


class TakenDown:
    """Torrents removed following a legal notice: refused in every mode, whatever the lists
    say, with a reason of their own. One set lookup per announce.

    The site adds a torrent when staff accept a notice and removes it when they restore it;
    at start-up swarmdex.node loads the standing takedowns from the database.
    """

    def __init__(self) -> None:
        # Announced 20-byte hashes: v1 and truncated v2. The tracker reads this very set.
        self.hashes: set[bytes] = set()

    def __contains__(self, info_hash: bytes) -> bool:
        return info_hash in self.hashes

    def __len__(self) -> int:
        return len(self.hashes)

    def add(self, v1: bytes | None = None, v2: bytes | None = None) -> None:
        self.hashes.update(h for h in (v1, v2[:20] if v2 else None) if h)

    def remove(self, v1: bytes | None = None, v2: bytes | None = None) -> None:
        self.hashes.difference_update(h for h in (v1, v2[:20] if v2 else None) if h)
