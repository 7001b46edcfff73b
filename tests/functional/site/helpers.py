"""The whole site in-process, for page and API tests: a migrated SQLite database in
tmp_path, the real app with a real tracker, and httpx clients talking ASGI to it.

    @async_test
    async def test_something(tmp_path: Path) -> None:
        async with running_site(tmp_path) as site:
            anonymous = site.client()
            alice = await site.logged_in("alice")                  # a user + a logged-in client
            admin = await site.logged_in("root", role=Role.ADMIN)
            token = await site.api_token("alice")                  # for Authorization: Bearer
            answer = await post_form(alice, "/account/tokens", name="script")

Logged-in clients get their session straight from the accounts services, so they cost one
password hash and no rate-limited login. `post_form` adds the CSRF field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from swarmdex.accounts.services import create_token, create_user, start_session, user_by_name
from swarmdex.db.engine import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Role, User
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.settings import Settings
from swarmdex.tracker.control import attach
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import Members
from swarmdex.web.app import create_app
from swarmdex.web.auth import SESSION_COOKIE, SESSION_LIFETIME
from swarmdex.web.context import SiteContext
from swarmdex.web.security import CSRF_COOKIE, CSRF_FIELD
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate

__all__ = [
    "BASE_URL",
    "PASSWORD",
    "Site",
    "async_test",
    "csrf_token",
    "post_form",
    "running_site",
]

BASE_URL: Final = "http://testserver"
PASSWORD: Final = "correct horse battery staple"
COOKIE_DOMAIN: Final = "testserver.local"  # how http.cookiejar names a dotless host


@dataclass
class Site:
    ctx: SiteContext
    app: Any
    tracker: Tracker  # what ctx.tracker, the port, drives
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, address: str = "127.0.0.1", **cookies: str) -> httpx.AsyncClient:
        """A new browser at `address`: its own cookies, redirects not followed (tests look
        at them)."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 50000)),
            base_url=BASE_URL,
        )
        for name, value in cookies.items():
            # The domain the cookie jar files the site's own cookies under, so that the
            # site's answers replace or delete these.
            client.cookies.set(name, value, domain=COOKIE_DOMAIN)
        self._clients.append(client)
        return client

    async def create_user(self, name: str, *, role: Role = Role.USER,
                          password: str = PASSWORD) -> User:
        async with transaction(self.ctx.db) as session:
            return await create_user(session, name, password, role)

    async def logged_in(self, name: str = "alice", *, role: Role = Role.USER,
                        password: str = PASSWORD) -> httpx.AsyncClient:
        """A browser logged in as `name`, creating the account if there is none."""
        async with transaction(self.ctx.db) as session:
            user = await user_by_name(session, name)
        if user is None:
            user = await self.create_user(name, role=role, password=password)
        async with transaction(self.ctx.db) as session:
            cookie = await start_session(session, user, SESSION_LIFETIME)
        return self.client(**{SESSION_COOKIE: cookie})

    async def api_token(self, name: str = "alice", *, role: Role = Role.USER) -> str:
        """An API token of `name`, creating the account if there is none."""
        async with transaction(self.ctx.db) as session:
            user = await user_by_name(session, name)
        if user is None:
            user = await self.create_user(name, role=role)
        async with transaction(self.ctx.db) as session:
            return await create_token(session, user, "tests")

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@asynccontextmanager
async def running_site(tmp_path: Path, **settings: Any) -> AsyncIterator[Site]:
    """The site on a fresh database in `tmp_path`; `settings` override Settings fields
    (e.g. registration="closed")."""
    engine = create_engine(database_url(tmp_path, configured_url()))
    store = MemoryPeerStore()
    private = settings.get("tracker_mode") == "private"
    tracker = Tracker(store, OpenTracker(), members=Members() if private else None)
    control = InProcessControl(tracker, None)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        attach(sessions, control)
        ctx = SiteContext(
            settings=Settings(data_dir=tmp_path, **settings),
            db=sessions,
            tracker=control,
            secret=bytes(32),
            base_url=BASE_URL,
            announce_urls=[f"{BASE_URL}/announce"],
        )
        site = Site(ctx=ctx, app=create_app(ctx), tracker=tracker)
        try:
            yield site
        finally:
            await site.close()
    finally:
        await control.close()
        await store.close()
        await engine.dispose()


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The CSRF token this client's forms must carry (a first page view sets it)."""
    if CSRF_COOKIE not in client.cookies:
        await client.get("/login")
    return client.cookies[CSRF_COOKIE]


async def post_form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """Post a form as the site's own pages do: with the CSRF field."""
    return await client.post(path, data={CSRF_FIELD: await csrf_token(client), **fields})
