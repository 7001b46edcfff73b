"""A migrated SQLite file per test, with one member per role, and campaigns to give to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Role, User
from swarmdex.donations import services
from swarmdex.donations.models import Campaign, Donation, Period
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate

CAP: Final = Decimal("100000")


def at(day: str, time: str = "12:00") -> datetime:
    """An aware UTC datetime: at("2025-01-31") is noon that day."""
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


NEW_YEAR: Final = at("2025-01-01", "00:00")
JANUARY_10: Final = at("2025-01-10")


@pytest.fixture
def url(tmp_path: Path, database_backend: str) -> str:
    """The test's database: each test that uses it runs on SQLite and on PostgreSQL."""
    return database_url(tmp_path, configured_url())


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    users: dict[Role, User]

    @property
    def admin(self) -> User:
        return self.users[Role.ADMIN]

    async def campaign(
        self,
        *,
        currency: str = "EUR",
        period: Period = Period.MONTHLY,
        goal: str = "",
        costs: str = "Hosting: 40.00\nBandwidth: 60.00",
        starts: datetime = NEW_YEAR,
        ends: datetime | None = None,
        title: str = "Keep the lights on",
    ) -> Campaign:
        draft = services.CampaignDraft(
            title=title, description="Why *we* need it", currency=currency, period=period,
            goal=goal, costs=costs, starts_at=starts, ends_at=ends,
        )
        async with transaction(self.sessions) as session:
            return await services.save_campaign(session, draft, by=self.admin, cap=CAP)

    async def give(
        self, campaign: Campaign, amount: str, currency: str | None = None, *,
        when: datetime = JANUARY_10, reference: str = "", **fields: Any,
    ) -> Donation:
        entry = services.Entry(
            campaign_id=campaign.id, amount=amount, currency=currency or campaign.currency,
            received_at=when, reference=reference, **fields,
        )
        async with transaction(self.sessions) as session:
            return await services.record(session, entry, by=self.admin, cap=CAP, now=when)

    async def figures(self, campaign: Campaign, now: datetime) -> services.Progress:
        async with self.sessions() as session:
            loaded = await services.get_campaign(session, campaign.id)
            return await services.progress(session, loaded, now)

    async def entries(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Donation)) or 0)


@asynccontextmanager
async def world(url: str) -> AsyncIterator[World]:
    """A migrated database with one user per role, named after it."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            users = {role: User(name=role.value, password_hash="x", role=role) for role in Role}
            session.add_all(users.values())
        yield World(sessions, users)
    finally:
        await engine.dispose()
