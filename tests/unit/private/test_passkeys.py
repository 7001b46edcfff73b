"""Passkeys and feed keys are made once, whoever asks first (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from swarmdex.db import transaction
from swarmdex.db.models import User
from swarmdex.private import passkeys
from swarmdex.tracker.models import TrackerChange
from tests.support.aio import async_test
from tests.unit.search.factory import catalogue

pytestmark = pytest.mark.usefixtures("database_backend")


@async_test
async def test_two_first_downloads_make_one_passkey(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            session.add(User(name="member", password_hash="x"))
        async with sessions() as session:  # two requests, each with the account as it was
            first = await session.scalar(select(User))
        async with sessions() as session:
            second = await session.scalar(select(User))
        assert first is not None and second is not None and first.passkey is None
        keys = []
        for stale in (first, second):
            async with transaction(sessions) as session:
                keys.append((await passkeys.passkey_of(session, stale),
                             await passkeys.rss_key_of(session, stale)))
        assert keys[0] == keys[1] and keys[0][0] != keys[0][1]
        async with sessions() as session:
            told = (await session.scalars(select(TrackerChange).where(TrackerChange.kind == "member"))).all()
        assert len(told) == 1  # the tracker learnt of one passkey
