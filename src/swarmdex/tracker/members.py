"""Private mode: who may announce, by passkey.

The tracker keeps the SHA-256 of each member's passkey, never the passkey: an announce's
passkey is hashed once and looked up. The lookup is by digest, so its timing says nothing
about how much of a stored passkey a guess got right (the constant-time comparison a
passkey needs), and a memory dump of a node holds no usable passkey.

Every refusal of a passkey reads the same, whether it is malformed, unknown, reset or of a
deleted account: nothing tells a guesser that a passkey ever existed. A banned member's own
passkey is told that the account is suspended: only its holder can see that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.changes import Leech, Member

__all__ = ["BANNED", "NO_PASSKEY", "Members", "passkey_digest"]

NO_PASSKEY: Final = ("this tracker is private: announce with the .torrent file you downloaded "
                     "from the site while logged in (its passkey is not valid)")
BANNED: Final = "your account is suspended: see the site for why and until when"


def passkey_digest(passkey: str) -> bytes:
    """What the tracker and the change feed keep of a passkey."""
    return hashlib.sha256(passkey.encode("utf-8", "surrogateescape")).digest()


class Members:
    """The members the tracker serves: passkey digest -> member id, and bans."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, int] = {}
        self._key_of: dict[int, bytes] = {}
        self._banned: dict[int, float] = {}
        self._leech: dict[int, str] = {}  # members who may not start downloads, and why

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, member: Member) -> None:
        """Know `member` as the change says, forgetting what was known of them before (an
        old passkey stops working at once)."""
        old = self._key_of.pop(member.user_id, None)
        if old is not None:
            self._by_key.pop(old, None)
        if member.key is not None:
            # A digest now of someone else (cannot happen with random passkeys): theirs goes.
            previous = self._by_key.get(member.key)
            if previous is not None:
                self._key_of.pop(previous, None)
            self._by_key[member.key] = member.user_id
            self._key_of[member.user_id] = member.key
        if member.banned_until is None:
            self._banned.pop(member.user_id, None)
        else:
            self._banned[member.user_id] = member.banned_until

    def apply_leech(self, change: Leech) -> None:
        if change.refusal is None:
            self._leech.pop(change.user_id, None)
        else:
            self._leech[change.user_id] = change.refusal

    def leech_refusals(self) -> dict[int, str]:
        """Every member who may not start downloads now, and why."""
        return dict(self._leech)

    def leech_refusal(self, user_id: int) -> str | None:
        """Why the member may not start a download now; None if they may."""
        return self._leech.get(user_id)

    def replace(self, members: Iterable[Member | Leech]) -> None:
        """Know exactly these members and leech refusals (a node loading the whole state)."""
        self._by_key.clear()
        self._key_of.clear()
        self._banned.clear()
        self._leech.clear()
        for change in members:
            if isinstance(change, Leech):
                self.apply_leech(change)
            else:
                self.apply(change)

    def resolve(self, passkey: str | None, now: float) -> int:
        """The member announcing with `passkey`; ProtocolError if none may."""
        if not passkey:
            raise ProtocolError(NO_PASSKEY)
        user_id = self._by_key.get(passkey_digest(passkey))
        if user_id is None:
            raise ProtocolError(NO_PASSKEY)
        until = self._banned.get(user_id)
        if until is not None and now < until:
            raise ProtocolError(BANNED)
        return user_id
