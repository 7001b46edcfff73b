"""Private mode's rules about clients: which programs may announce, and how many of one
member's clients may be in one swarm at once.

Clients name themselves in the first bytes of their peer id (BEP 20): Azureus style
`-qB4620-` (qBittorrent 4.6.2.0), `-TR4060-` (Transmission 4.0.6), `-LT2090-`, `-DE2110-`.
The allowlist is a list of such prefixes; a refusal names the client as it named itself, so
its user knows what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["ClientRules", "client_name"]

_AZUREUS: Final = re.compile(rb"-([A-Za-z~]{2})([0-9A-Za-z.]{4})-")


def client_name(peer_id: bytes) -> str:
    """How a client names itself: "qB 4620" for `-qB4620-...`; else its first printable
    bytes (at most 8), or "unknown"."""
    match = _AZUREUS.match(peer_id)
    if match:
        return f"{match[1].decode()} {match[2].decode()}"
    shown = "".join(chr(b) for b in peer_id[:8] if 0x21 <= b < 0x7F)
    return shown or "unknown"


@dataclass(frozen=True, slots=True)
class ClientRules:
    """`allowed`: peer id prefixes that may announce (empty: any client). `per_torrent`: the
    most clients (peer ids) one member may have in one swarm."""

    allowed: tuple[bytes, ...] = ()
    per_torrent: int = 3

    def refusal(self, peer_id: bytes) -> str | None:
        """Why this client may not announce; None if it may."""
        if self.allowed and not peer_id.startswith(self.allowed):
            return (f"your client ({client_name(peer_id)}) is not allowed on this tracker: "
                    "the site's rules list the clients that are")
        return None
