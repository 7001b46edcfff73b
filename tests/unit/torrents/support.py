"""What the torrents tests share: real torrents from libtorrent, a migrated SQLite site, users.

Also used by tests/functional/site/test_torrents.py.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import libtorrent as lt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.accounts.services import create_token, start_session
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Role, Tag, Torrent, TorrentFile, User
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.settings import Settings
from swarmdex.torrents import services
from swarmdex.tracker.control import attach
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import Members
from swarmdex.web.app import create_app
from swarmdex.web.auth import SESSION_COOKIE
from swarmdex.web.context import SiteContext
from swarmdex.web.security import CSRF_COOKIE, CSRF_FIELD
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate

SITE_TRACKERS = ["http://tracker.test:8080/announce", "udp://tracker.test:6969/announce"]
CSRF = "c" * 43  # what SecurityHeaders accepts as a token: 43 characters

_VERSIONS = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}


def build_torrent(
    directory: Path,
    layout: Mapping[str, int],
    version: str = "hybrid",
    *,
    trackers: tuple[tuple[str, ...], ...] = (),
    private: bool = False,
    seed: str = "",
) -> bytes:
    """libtorrent's .torrent for files of `layout` (path -> size) created under `directory`.

    `seed` varies the content, hence the hashes, of otherwise equal layouts.
    """
    rng = random.Random(repr(sorted(layout.items())) + seed)
    for relative, size in layout.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    (top,) = {relative.split("/")[0] for relative in layout}
    creator = lt.create_torrent(lt.list_files(str(directory / top)), 16_384, _VERSIONS[version])
    for tier_index, tier in enumerate(trackers):
        for url in tier:
            creator.add_tracker(url, tier_index)
    creator.set_priv(private)
    lt.set_piece_hashes(creator, str(directory))
    return bytes(lt.bencode(creator.generate()))


class TorrentFactory:
    """Distinct torrents on demand, each built in its own directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made = 0

    def __call__(
        self,
        layout: Mapping[str, int] | None = None,
        version: str = "hybrid",
        **options: Any,
    ) -> bytes:
        self.made += 1
        directory = self.root / f"torrent{self.made}"
        directory.mkdir(parents=True)
        options.setdefault("seed", str(self.made))
        return build_torrent(directory, layout or {"data/a.bin": 40_000, "data/b.txt": 1_000}, version, **options)


@asynccontextmanager
async def database(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database in `tmp_path` with the default categories."""
    engine = create_engine(database_url(tmp_path, configured_url()))
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await services.ensure_default_categories(session)
        yield sessions
    finally:
        await engine.dispose()


async def add_user(
    sessions: async_sessionmaker[AsyncSession], name: str, role: Role = Role.USER
) -> User:
    """An account, without the cost of hashing a real password."""
    async with transaction(sessions) as session:
        user = User(name=name, password_hash="not a password hash", role=role)
        session.add(user)
    return user


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Torrent, TorrentFile, Tag)
        }


@dataclass
class Site:
    """The real app on a real database, with a listed-mode (or private) tracker in memory."""

    ctx: SiteContext
    client: httpx.AsyncClient
    tracker: Tracker  # what ctx.tracker, the port, drives
    listed: ListedTorrents

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.ctx.db

    async def login(self, name: str, role: Role = Role.USER) -> User:
        """Make the client a browser logged in as a new account `name`."""
        user = await add_user(self.sessions, name, role)
        async with transaction(self.sessions) as session:
            value = await start_session(session, user, timedelta(hours=1))
        self.client.cookies = httpx.Cookies({SESSION_COOKIE: value, CSRF_COOKIE: CSRF})
        return user

    def logout(self) -> None:
        self.client.cookies = httpx.Cookies({CSRF_COOKIE: CSRF})

    async def token(self, name: str) -> dict[str, str]:
        """Headers carrying an API token of a new account `name`."""
        user = await add_user(self.sessions, name)
        async with transaction(self.sessions) as session:
            token = await create_token(session, user, "tests")
        return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_site(tmp_path: Path, **settings: Any) -> AsyncIterator[Site]:
    async with database(tmp_path) as sessions:
        listed = ListedTorrents()
        chosen = Settings(data_dir=tmp_path, **({"tracker_mode": "listed"} | settings))
        tracker = Tracker(MemoryPeerStore(keep_dormant=True), listed,
                          members=Members() if chosen.private else None)
        control = InProcessControl(tracker, listed)
        attach(sessions, control)
        ctx = SiteContext(
            settings=chosen,
            db=sessions,
            tracker=control,
            secret=bytes(32),
            base_url="http://testserver",
            announce_urls=list(SITE_TRACKERS),
        )
        transport = httpx.ASGITransport(app=create_app(ctx))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                client.cookies = httpx.Cookies({CSRF_COOKIE: CSRF})
                yield Site(ctx, client, tracker, listed)
        finally:
            await control.close()
            await tracker.store.close()


def form_fields(**fields: str) -> dict[str, str]:
    """Form fields with the CSRF token that matches the `CSRF` cookie."""
    return {CSRF_FIELD: CSRF, **fields}
