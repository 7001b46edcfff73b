"""Where the tracker keeps peers: a written contract (`base`) and its backends."""

from swarmdex.peerstore.base import PeerStore, StoreFull, StoreStats, SwarmReply

__all__ = ["PeerStore", "StoreFull", "StoreStats", "SwarmReply"]
