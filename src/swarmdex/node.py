"""One swarmdex process: build the parts from Settings, listen, maintain, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from swarmdex.bootstrap import prepare_database
from swarmdex.db.engine import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import utcnow
from swarmdex.fdlimit import http_limits
from swarmdex.peerstore.base import Rate, StoreRefused
from swarmdex.peerstore.factory import peer_store, redis_location
from swarmdex.privacy.purge import purge
from swarmdex.private.accounting import Accountant
from swarmdex.private.ratio import hit_and_run_rule, ratio_rule
from swarmdex.protocol.connection_id import ConnectionIds
from swarmdex.proxies import TrustedProxies
from swarmdex.ratelimits import Limits, MemoryLimits, RedisLimits
from swarmdex.runtime.handoff import SiteProtocols, head_as_get, with_tracker
from swarmdex.runtime.tracker_state import whole_state
from swarmdex.settings import Settings
from swarmdex.sitecfg import services as sitecfg
from swarmdex.tracker.clients import ClientRules
from swarmdex.tracker.control import attach
from swarmdex.tracker.feed import FeedControl, FeedFollower
from swarmdex.tracker.feed import prune as prune_feed
from swarmdex.tracker.hooks import Allowlist, EitherList, ListedTorrents, OpenTracker
from swarmdex.tracker.http_server import HttpTrackerServer, not_found
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.ledger import Ledger
from swarmdex.tracker.logic import Tracker, TrackerPolicy
from swarmdex.tracker.members import Members
from swarmdex.tracker.udp_server import UdpTrackerServer
from swarmdex.web.app import create_app
from swarmdex.web.context import SiteContext

log = logging.getLogger("swarmdex")
SECRET_FILE = "secret.key"
ALLOWLIST_POLL = 1.0  # seconds between checks of the allowlist file's mtime
PURGE_EVERY = 24 * 3600.0  # seconds between purges of what passed its retention
PUBLISH_EVERY = 5.0  # seconds between a tracker node's counters reaching the shared store
# Seconds between rechecks of private mode's rules for every member (hit-and-run deadlines
# pass without any announce to notice them).
RULES_RECHECK = 600.0
STOP_GRACE = 5.0  # seconds a background round may take to finish at shutdown


def prepare_data_dir(data_dir: Path) -> bytes:
    """Create the data dir if needed and return the persistent secret, creating it once.

    The secret keys UDP connection ids (and later session cookies), so it survives
    restarts: clients holding a connection id keep working across a quick restart.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        secret = path.read_bytes()
        if len(secret) == 32:
            return secret
        log.warning("%s has the wrong size; making a new one", path)
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def shown_host(bound: str, public_host: str | None) -> str:
    """The host name announce URLs and links carry for a listener bound to `bound`.

    A wildcard address (0.0.0.0, ::) is where the server listens, not an address anyone can
    reach it at: a .torrent announcing to it would be useless. Without a `public_host`, such a
    listener is named by this machine's name instead.
    """
    if public_host:
        return url_host(public_host)
    try:
        wildcard = ipaddress.ip_address(bound).is_unspecified
    except ValueError:
        wildcard = False
    return url_host(socket.gethostname() if wildcard else bound)


class AllowlistFile:
    """Keeps a ListedTorrents in step with a file the operator (or `swarmdex allow`) edits."""

    def __init__(self, path: Path, listed: ListedTorrents) -> None:
        self.path = path
        self.listed = listed
        self._mtime: float | None = None

    def refresh(self) -> set[bytes]:
        """Reload if the file changed; return the swarm keys it stopped serving.

        A broken file keeps the old list (and says why in the log)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return set()
        fresh = ListedTorrents()
        if mtime is not None:
            try:
                fresh.load(self.path)
            except (OSError, ValueError) as exc:
                log.error("allowlist not reloaded: %s", exc)
                self._mtime = mtime
                return set()
        self._mtime = mtime
        return self.listed.replace(fresh)


def store_limits(settings: Settings) -> dict[str, Any]:
    """The peer store's per-address limits (duty 7 of its contract), from the settings."""
    return {
        "max_peers_per_address": settings.max_peers_per_address,
        "new_swarms": Rate(
            settings.new_swarms_burst,
            60.0 * settings.new_swarms_burst / settings.new_swarms_per_minute,
        ),
        "min_interval": settings.min_interval if settings.min_interval_enforced else None,
        "new_peer_lists": Rate(settings.new_peer_lists_per_min_interval, settings.min_interval)
        if settings.new_peer_lists_per_min_interval and settings.min_interval
        else None,
    }


Role = Literal["serve", "web", "tracker"]
# What a web process answers BitTorrent clients: its port serves the site only.
WEB_ONLY = "this address serves the site; announce to the tracker's own addresses"
# What a tracker node answers browsers.
TRACKER_ONLY = b"swarmdex tracker: this address answers /announce and /scrape only\n"


def tracker_only(method: bytes, path: bytes, query: bytes) -> tuple[int, bytes, bytes, bytes]:
    return 404, b"text/plain; charset=utf-8", TRACKER_ONLY, b""


class Node:
    """One swarmdex process in one of three roles:

    serve    the site and the tracker together (the embedded default);
    tracker  UDP and HTTP announces and scrapes only, following the change feed;
    web      the site, JSON API and feeds only, reading swarm counts from the shared peer
             store; BitTorrent clients that announce to it are told to go elsewhere.
    """

    def __init__(self, settings: Settings, *, secret: bytes, role: Role = "serve") -> None:
        self.settings = settings
        self.role = role
        self.store = peer_store(
            settings.peer_store_url,
            peer_ttl=settings.effective_peer_ttl,
            max_peers=settings.max_peers,
            max_swarms=settings.max_swarms,
            keep_dormant=settings.serves_listed,
            # Nodes sharing a store take turns at expiry: one pass per interval among them.
            gc_every=settings.gc_interval / 2,
            **store_limits(settings),
        )
        self.allowlist_file: AllowlistFile | None = None
        # In listed and private mode the tracker serves the site's torrents (fed in process by
        # the site) and whatever the operator lists in the allowlist file.
        self.listed: ListedTorrents | None = None
        allowlist: Allowlist
        if settings.serves_listed:
            self.listed = ListedTorrents()
            from_file = ListedTorrents()
            self.allowlist_file = AllowlistFile(settings.allowlist_path, from_file)
            self.allowlist_file.refresh()
            allowlist = EitherList(self.listed, from_file)
        else:
            allowlist = OpenTracker()
        policy = TrackerPolicy(
            interval=settings.interval,
            interval_jitter=settings.interval_jitter,
            min_interval=settings.min_interval,
            numwant_default=settings.numwant_default,
            numwant_max=settings.numwant_max,
        )
        # Private mode: members only, and their credit kept from their announces (written
        # by `self.accountant`, started with the database).
        self.ledger = Ledger(max_rate=settings.accounting_max_rate,
                             stale_after=settings.effective_peer_ttl) if settings.private else None
        self.tracker = Tracker(self.store, allowlist, policy,
                               members=Members() if settings.private else None,
                               ledger=self.ledger if role != "web" else None,
                               clients=ClientRules(
                                   tuple(p.encode() for p in settings.client_allowlist),
                                   settings.max_clients_per_torrent))
        self.accountant: Accountant | None = None
        # The site drives the tracker through this port only (swarmdex.tracker.control): in
        # this process's memory, or (web) through the change feed the tracker nodes follow.
        self.control: InProcessControl | FeedControl
        if role == "web":
            self.control = FeedControl(self.store)
            self.tracker.closed = WEB_ONLY  # the gate every announce and scrape meets first
        else:
            self.control = InProcessControl(self.tracker, self.listed)
        self.udp = UdpTrackerServer(
            self.tracker, ConnectionIds(secret, lifetime=settings.connection_id_lifetime)
        )
        self.http = HttpTrackerServer(self.tracker, proxies=TrustedProxies(settings.trusted_proxies),
                                      limits=http_limits(settings),
                                      pages=tracker_only if role == "tracker" else not_found)
        self.secret = secret
        # The site's rate limits: in the Redis of the peer store when there is one, so that
        # every web process counts the same attempts.
        location = redis_location(settings.peer_store_url)
        self.limits: Limits = (MemoryLimits() if location is None
                               else RedisLimits.at(location[0], prefix=location[1]))
        # Names this process among the tracker nodes publishing counters to a shared store.
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.engine: AsyncEngine | None = None
        self.feed: FeedFollower | None = None
        self.site: SiteProtocols | None = None
        self.urls: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def _transport_counters(self) -> dict[str, int]:
        udp = {f"udp_{k}": v for k, v in asdict(self.udp.counters).items()}
        http = {f"http_{k}": v for k, v in asdict(self.http.counters).items()}
        return udp | http

    async def start(self) -> list[str]:
        """Open the database, bind every listener, start the site; return the lines to print
        (announce URLs, site URL)."""
        s = self.settings
        await self.store.open()  # a store that does not answer stops the start here
        # Migrate before anything listens: no request ever meets an older schema.
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(database_url(s.data_dir, s.database_url))
        await prepare_database(self.engine)
        sessions = session_factory(self.engine)
        attach(sessions, self.control)  # domain services' commits reach the tracker
        if isinstance(self.control, InProcessControl):
            # The tracker serves the database's state from the first announce (standing
            # takedowns, the site's torrents in listed mode, the site mode), then follows
            # the change feed: changes made here apply at commit as well, changes made by
            # any other process (a web process, a command-line tool) within a poll.
            self.feed = FeedFollower(sessions, self.control, partial(whole_state, settings=s))
            await self.feed.start()
            if self.ledger is not None:
                accountant = self.accountant = Accountant(
                    self.ledger, sessions, rule=ratio_rule(s), hit_and_run=hit_and_run_rule(s),
                    members=self.tracker.members)
                self._every(s.accounting_flush_seconds, lambda: accountant.flush(time.time()))
                self._every(RULES_RECHECK, accountant.recheck)
        else:
            if urlsplit(s.peer_store_url).scheme == "memory":
                log.warning("a web process with peer_store_url = memory:// shows no live "
                            "counts: give it the tracker nodes' peer store URL")
            if not s.announce_urls:
                log.warning("a web process without announce_urls writes no tracker into "
                            "downloads and magnets: set it to the tracker nodes' URLs")
        defaults = s.hosts == Settings.model_fields["hosts"].default
        lines: list[str] = []
        for host in s.hosts:
            try:
                # Web processes share their port (`swarmdex web --workers N`).
                http_host, http_port = await self.http.listen(host, s.port,
                                                              shared=self.role == "web")
                udp_host, udp_port = (self.udp.listen(host, s.udp_port) if self.role != "web"
                                      else (http_host, 0))
            except OSError as exc:
                # A machine without IPv6 should still start on the default hosts.
                if defaults and ":" in host and exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    log.warning("not listening on %s: %s", host, exc)
                    continue
                raise OSError(
                    exc.errno, f"cannot listen on {host} (HTTP {s.port}, UDP {s.udp_port}): {exc.strerror}"
                ) from None
            shown = shown_host(http_host, s.public_host)
            shown_udp = shown_host(udp_host, s.public_host)
            shown_lines = {
                "serve": (f"site http://{shown}:{http_port}/",
                          f"tracker http://{shown}:{http_port}/announce",
                          f"tracker udp://{shown_udp}:{udp_port}/announce"),
                "web": (f"site http://{shown}:{http_port}/",),
                "tracker": (f"tracker http://{shown}:{http_port}/announce",
                            f"tracker udp://{shown_udp}:{udp_port}/announce"),
            }[self.role]
            for line in shown_lines:
                if line not in lines:  # 0.0.0.0 and :: both named by the machine's name
                    lines.append(line)
        self.urls = [line.split(" ", 1)[1] for line in lines if line.startswith("tracker ")]
        site_urls = [line.split(" ", 1)[1] for line in lines if line.startswith("site ")]
        if self.role != "web":  # a web process only reads the peer store
            self._every(s.gc_interval, self._collect_garbage)
            self._every(PUBLISH_EVERY, self._publish_counters, now=True)
            if self.allowlist_file is not None:
                self._every(ALLOWLIST_POLL, self._watch_allowlist)
        if self.role == "tracker":
            return lines
        ctx = SiteContext(
            settings=s,
            db=sessions,
            tracker=self.control,
            secret=self.secret,
            base_url=s.base_url or (site_urls[0].rstrip("/") if site_urls else ""),
            # A web process names the tracker nodes only if told (announce_urls).
            announce_urls=s.announce_urls or self.urls,
            counters=self._transport_counters,
            peers_persist=tuple(self.store.persists),
            limits=self.limits,
        )
        self.site = SiteProtocols(head_as_get(with_tracker(create_app(ctx), self.http)))
        self.http.site = self.site
        # The admin settings kept fresh even without page views (the site mode reaches the
        # tracker through the feed).
        await sitecfg.refresh(ctx)
        self._every(sitecfg.REFRESH_SECONDS, lambda: sitecfg.current(ctx))
        self._every(PURGE_EVERY, lambda: self._purge(sessions), now=True)
        return lines

    def _every(self, seconds: float, work: Callable[[], Awaitable[object]], *,
               now: bool = False) -> None:
        """Run `work` every `seconds` (and at once if `now`) until `stop`.

        `stop` lets a round finish instead of cancelling it: a database call cancelled
        half-way leaves its pooled connection mid-rollback, which SQLAlchemy reports as an
        error at every shutdown that lands there."""

        async def loop() -> None:
            if now:
                await work()
            while True:
                try:
                    await asyncio.wait_for(self._stopping.wait(), seconds)
                    return
                except TimeoutError:
                    await work()

        self._tasks.append(asyncio.create_task(loop()))

    async def _collect_garbage(self) -> None:
        try:
            await self.store.collect_garbage(time.time())
        except Exception:  # a failed sweep is retried next time; the tracker keeps serving
            log.exception("peer expiry sweep failed")

    async def _publish_counters(self) -> None:
        """This node's totals into the peer store, for web processes to add up."""
        # The store away: it says so in the log itself; the next round tries again.
        with contextlib.suppress(StoreRefused):
            await self.store.publish_counters(self.node_id, asdict(self.tracker.counters),
                                              ttl=3 * PUBLISH_EVERY)

    async def _purge(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Delete what passed its retention (swarmdex.privacy.purge): at start, then daily."""
        try:
            done = await purge(sessions, self.settings)
            log.info("purge: %s", "; ".join(done.lines()))
            async with transaction(sessions) as session:
                pruned = await prune_feed(session, utcnow())
            log.info("tracker feed: %d changes older than a day pruned", pruned)
        except Exception:  # retried tomorrow; the site and tracker keep serving
            log.exception("daily purge failed")

    async def _watch_allowlist(self) -> None:
        assert self.allowlist_file is not None
        for key in self.allowlist_file.refresh():
            await self.store.remove_swarm(key)

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE)
            for task in late:  # a round that would not end (a stuck database): cut short
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.udp.close()
        await self.http.close()
        if self.accountant is not None:  # the last credit, once no announce can add to it
            await self.accountant.flush(time.time())
        if self.site is not None:
            await self.site.close()
        if self.feed is not None:
            await self.feed.stop()
        await self.control.close()
        await self.store.close()
        if isinstance(self.limits, RedisLimits):
            await self.limits.close()
        if self.engine is not None:
            await self.engine.dispose()


async def serve(settings: Settings, *, announce: Callable[[str], None] = print,
                role: Role = "serve") -> None:
    """Run until SIGINT or SIGTERM. `announce` receives the start-up lines."""
    secret = prepare_data_dir(settings.data_dir)
    node = Node(settings, secret=secret, role=role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for line in await node.start():
            announce(f"swarmdex: {line}")
        if settings.serves_listed and role != "web":
            announce(f"swarmdex: {settings.tracker_mode} mode, allowlist {settings.allowlist_path}")
        announce("swarmdex: ready")
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await node.stop()
