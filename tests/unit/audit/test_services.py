"""The audit log on a real, migrated SQLite database: recorded with the action, filtered,
paged, and never changed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError

from swarmdex.audit import services as audit
from swarmdex.audit.models import AuditEntry
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.settings import Settings
from swarmdex.sitecfg import services as sitecfg
from tests.support.databases import configured_url, migrate

from ..db.conftest import async_test

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")


async def _setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url(tmp_path, configured_url()))
    await migrate(engine)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        admin = User(name="root", password_hash="x", role=Role.ADMIN)
        session.add(admin)
    return engine, sessions, admin


@async_test
async def test_entries_are_recorded_filtered_and_paged(tmp_path: Path) -> None:
    engine, sessions, admin = await _setup(tmp_path)
    try:
        async with transaction(sessions) as session:
            for i in range(7):
                await audit.record(session, admin, "torrent.delete", "torrent", f"h{i}",
                                   before={"title": f"T{i}"})
            await audit.record(session, None, "category.add", "category", "linux",
                               after={"name": "Linux"}, note="first start")
        async with sessions() as session:
            everything = await audit.entries(session, per_page=5)
            assert [e.target_id for e in everything.entries] == ["linux", "h6", "h5", "h4", "h3"]
            rest = await audit.entries(session, before_id=everything.older, per_page=5)
            assert [e.target_id for e in rest.entries] == ["h2", "h1", "h0"] and rest.older is None
            system = (await audit.entries(session, audit.Filters(actor="SYSTEM"))).entries
            assert [(e.actor_id, e.actor_name, e.note) for e in system] == [(None, "system", "first start")]
            by_prefix = await audit.entries(session, audit.Filters(action="torrent."))
            assert len(by_prefix.entries) == 7
            exact = await audit.entries(session, audit.Filters(target_type="torrent", target_id="h3"))
            assert [e.before for e in exact.entries] == [{"title": "T3"}]
            none = await audit.entries(session, audit.Filters(since=utcnow() + timedelta(days=1)))
            assert none.entries == []
    finally:
        await engine.dispose()


@async_test
async def test_the_log_cannot_be_changed_or_emptied(tmp_path: Path) -> None:
    engine, sessions, admin = await _setup(tmp_path)
    try:
        async with transaction(sessions) as session:
            await audit.record(session, admin, "settings.change", "site", "settings")
        for statement in (update(AuditEntry).values(note="nothing happened"), delete(AuditEntry)):
            with pytest.raises(IntegrityError, match="append-only"):
                async with transaction(sessions) as session:
                    await session.execute(statement)
        # Erasing the actor's account leaves the entry as it was.
        async with transaction(sessions) as session:
            await session.execute(delete(User).where(User.id == admin.id))
        async with sessions() as session:
            (entry,) = (await audit.entries(session)).entries
            assert (entry.actor_id, entry.actor_name) == (admin.id, "root")
            rows = (await session.execute(text("SELECT count(*) FROM audit_log"))).scalar()
            assert rows == 1
    finally:
        await engine.dispose()


@async_test
async def test_a_settings_change_records_only_what_changed(tmp_path: Path) -> None:
    engine, sessions, admin = await _setup(tmp_path)
    settings = Settings(data_dir=tmp_path)
    try:
        async with transaction(sessions) as session:
            await sitecfg.update(session, settings, site_name="Open Mirror",
                                 registration_open=True, upload_max_bytes=settings.upload_max_bytes,
                                 by=admin)
            # Saving the same values again is no change, and no entry.
            await sitecfg.update(session, settings, site_name="Open Mirror",
                                 registration_open=True, upload_max_bytes=settings.upload_max_bytes,
                                 by=admin)
        async with sessions() as session:
            (entry,) = (await audit.entries(session)).entries
        assert (entry.action, entry.actor_name) == ("settings.change", "root")
        assert entry.before == {"site_name": "swarmdex"} and entry.after == {"site_name": "Open Mirror"}
    finally:
        await engine.dispose()
