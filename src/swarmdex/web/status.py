"""The home page: live tracker figures, rendered from the counters at request time.

Plain HTML and CSS, no JavaScript, no external resources (they would leak visitors'
addresses to third parties). Also answers as JSON at /stats.json.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from swarmdex import __version__
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.tracker.logic import Tracker

_HTML = b"text/html; charset=utf-8"
_JSON = b"application/json"
_SECURITY = (
    b"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
    b"X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
)
_STYLE = """
:root { color-scheme: light dark; --fg:#1d1f23; --bg:#fafafa; --card:#fff; --muted:#5b616e; --accent:#2c6bed; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e8eb; --bg:#14161a; --card:#1d2026; --muted:#9aa3b2; --accent:#7aa7ff; } }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--fg); }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1rem; }
h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
p.lead { color: var(--muted); margin-top: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; }
.card { background: var(--card); border-radius: .6rem; padding: .9rem 1rem; box-shadow: 0 1px 3px #0002; }
.card b { display: block; font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: .9rem; }
code { background: var(--card); padding: .15rem .4rem; border-radius: .3rem; word-break: break-all; }
ul { padding-left: 1.2rem; }
footer { color: var(--muted); font-size: .85rem; margin-top: 2rem; }
"""


@dataclass
class StatusPage:
    """Serves `/` and `/stats.json`; anything else is a 404."""

    tracker: Tracker
    announce_urls: list[str]
    extra_counters: Callable[[], dict[str, int]] = dict
    started: float = field(default_factory=time.time)

    def figures(self) -> dict[str, int]:
        store = self.tracker.store
        swarms, peers = store.counts() if isinstance(store, MemoryPeerStore) else (0, 0)
        c = self.tracker.counters
        figures = {
            "torrents_active": swarms,
            "peers": peers,
            "announces": c.announces,
            "scrapes": c.scrapes,
            "refused": c.refused,
            "uptime_s": int(time.time() - self.started),
        }
        figures.update(self.extra_counters())
        return figures

    def __call__(self, method: bytes, path: bytes, query: bytes) -> tuple[int, bytes, bytes, bytes]:
        if method not in (b"GET", b"HEAD"):
            return 405, b"text/plain", b"use GET\n", b"Allow: GET, HEAD\r\n"
        if path == b"/":
            return 200, _HTML, self._home().encode(), _SECURITY + b"Refresh: 15\r\n"
        if path == b"/stats.json":
            body = json.dumps({"version": __version__, **self.figures()}).encode()
            return 200, _JSON, body, b"Cache-Control: no-store\r\n"
        return 404, _HTML, self._page("Not found", "<p>There is nothing at this address.</p>").encode(), _SECURITY

    def _home(self) -> str:
        f = self.figures()
        cards = "".join(
            f'<div class="card"><b>{f[key]:,}</b><span>{label}</span></div>'
            for key, label in (
                ("torrents_active", "active torrents"),
                ("peers", "peers"),
                ("announces", "announces since start"),
                ("scrapes", "scrapes since start"),
            )
        )
        urls = "".join(f"<li><code>{html.escape(u)}</code></li>" for u in self.announce_urls)
        body = (
            '<p class="lead">BitTorrent tracker. Figures are live and refresh every 15 s.</p>'
            f'<section class="grid" aria-label="tracker figures">{cards}</section>'
            f"<h2>Announce URLs</h2><ul>{urls}</ul>"
            "<p>Add one of these to your torrent's trackers. Peer addresses are kept in memory "
            "only, for as long as the swarm needs them, and never written to disk.</p>"
        )
        return self._page("swarmdex", body)

    @staticmethod
    def _page(title: str, body: str) -> str:
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{html.escape(title)}</h1>{body}"
            f"<footer>swarmdex {__version__}</footer></main></body></html>"
        )
