"""Operator settings and categories on a real, migrated SQLite file."""

from __future__ import annotations

import hashlib
import logging
import socket
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db import create_engine, session_factory, transaction
from swarmdex.db.models import Category, Torrent, swarm_key, utcnow
from swarmdex.settings import Settings
from swarmdex.sitecfg import services
from swarmdex.sitecfg.models import SiteSetting
from swarmdex.sitecfg.services import CategoryError, ConfigError, SiteConfig

from .conftest import Site, async_test, site


async def stored(s: Site) -> dict[str, Any]:
    async with s.db() as session:
        return {row.key: row.value for row in (await session.scalars(select(SiteSetting))).all()}


async def update(s: Site, **changes: Any) -> SiteConfig:
    values = {"site_name": "swarmdex", "registration_open": True, "upload_max_bytes": 10 * 1024 * 1024}
    async with transaction(s.db) as session:
        return await services.update(session, s.settings, **(values | changes))


# settings


def test_defaults_are_the_configurations() -> None:
    settings = Settings(site_name="Example", registration="closed", upload_max_bytes=2048)
    assert services.defaults(settings) == SiteConfig("Example", False, 2048, frozenset())


@async_test
async def test_only_values_that_differ_from_the_configuration_are_stored(url: str) -> None:
    async with site(url) as s:
        config = await update(s, site_name="  My   Index ", registration_open=False)
        assert config == SiteConfig(
            "My Index", False, 10 * 1024 * 1024, frozenset({"site_name", "registration"})
        )
        assert await stored(s) == {"site_name": "My Index", "registration": False}
        # Back to the configuration's values: the overrides go, so the file rules again.
        config = await update(s, upload_max_bytes=4096)
        assert config == SiteConfig("swarmdex", True, 4096, frozenset({"upload_max_bytes"}))
        assert await stored(s) == {"upload_max_bytes": 4096}
        async with s.db() as session:
            assert await services.effective(session, s.settings) == config


@async_test
async def test_a_new_configuration_shows_through_where_nothing_overrides_it(url: str) -> None:
    async with site(url) as s:
        await update(s, registration_open=False)
        async with s.db() as session:
            config = await services.effective(session, Settings(site_name="Renamed in the file"))
        assert (config.site_name, config.registration_open) == ("Renamed in the file", False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"site_name": " \t "}, "cannot be empty"),
        ({"site_name": "x" * 81}, "at most 80"),
        ({"upload_max_bytes": 1023}, "between 1 KiB and 100 MiB"),
        ({"upload_max_bytes": 100 * 1024 * 1024 + 1}, "between 1 KiB and 100 MiB"),
        ({"upload_max_bytes": True}, "whole number"),
        ({"registration_open": "yes"}, "open or closed"),
    ],
)
@async_test
async def test_unusable_values_change_nothing(url: str, changes: dict[str, Any], message: str) -> None:
    async with site(url) as s:
        await update(s, site_name="Before")
        with pytest.raises(ConfigError, match=message):
            await update(s, **({"site_name": "After"} | changes))
        assert await stored(s) == {"site_name": "Before"}


@async_test
async def test_stored_values_are_checked_when_read(url: str, caplog: pytest.LogCaptureFixture) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            session.add_all([
                SiteSetting(key="upload_max_bytes", value="lots"),  # not a number: ignored
                SiteSetting(key="from_a_newer_version", value=1),  # unknown: ignored
                SiteSetting(key="site_name", value="Kept"),
            ])
        with caplog.at_level(logging.WARNING, "swarmdex.sitecfg.services"):
            async with s.db() as session:
                config = await services.effective(session, s.settings)
        assert config == SiteConfig("Kept", True, 10 * 1024 * 1024, frozenset({"site_name"}))
        assert "ignoring the stored setting upload_max_bytes" in caplog.text


# the copy each process keeps


@async_test
async def test_the_copy_is_read_once_then_served_from_memory(url: str) -> None:
    async with site(url, site_name="From the file") as s:
        assert services.cached(s).site_name == "From the file"  # nothing read yet
        async with transaction(s.db) as session:
            session.add(SiteSetting(key="site_name", value="Stored"))
        assert services.cached(s).site_name == "From the file"
        assert (await services.current(s)).site_name == "Stored"
        assert services.cached(s).site_name == "Stored"
        async with transaction(s.db) as session:  # another process changes it...
            (await session.get_one(SiteSetting, "site_name")).value = "Elsewhere"
        assert (await services.current(s)).site_name == "Stored"  # ...seen once the copy is stale
        services._copies[s.db].fresh_until = 0
        assert (await services.current(s)).site_name == "Elsewhere"


@async_test
async def test_remember_applies_at_once(url: str) -> None:
    async with site(url) as s:
        await services.current(s)
        config = await update(s, registration_open=False, upload_max_bytes=2048)
        services.remember(s, config)
        assert not await services.registration_open(s)
        assert await services.upload_limit(s) == 2048
        assert services.cached(s) == config


@async_test
async def test_a_read_that_started_before_a_change_does_not_undo_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with site(url) as s:
        newer = SiteConfig("Newer", False, 4096, frozenset({"site_name"}))
        real = services.effective

        async def slow_read(session: AsyncSession, settings: Settings) -> SiteConfig:
            older = await real(session, settings)
            services.remember(s, newer)  # the admin saved while this read was under way
            return older

        monkeypatch.setattr(services, "effective", slow_read)
        assert await services.refresh(s) == newer
        assert services.cached(s) == newer


@async_test
async def test_an_unreadable_database_serves_the_last_values(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/swarmdex.db")
    try:
        broken = Site(Settings(site_name="Configured"), session_factory(engine), engine)
        with caplog.at_level(logging.WARNING, "swarmdex.sitecfg.services"):
            assert (await services.current(broken)).site_name == "Configured"
        assert "cannot read the site settings" in caplog.text
        copy = services._copies[broken.db]
        assert copy.fresh_until - services.time.monotonic() <= services.RETRY_SECONDS
    finally:
        await engine.dispose()


@async_test
async def test_registration_and_upload_limit_follow_the_configuration_by_default(url: str) -> None:
    async with site(url, registration="closed", upload_max_bytes=5000) as s:
        assert not await services.registration_open(s)
        assert await services.upload_limit(s) == 5000


# categories


async def add_torrent(session: AsyncSession, category: Category, n: int, *, removed: bool = False) -> None:
    info = b"d4:name%d:%se" % (len(str(n)), str(n).encode())
    v1 = hashlib.sha1(info).digest()
    session.add(Torrent(
        info_hash_v1=v1, swarm_key=swarm_key(v1, None), title=str(n), name=str(n), category=category,
        size=1, file_count=1, piece_length=16384, info_dict=info,
        deleted_at=utcnow() if removed else None,
    ))


async def listing(s: Site) -> list[tuple[str, str, int, int]]:
    async with s.db() as session:
        return [(c.slug, c.name, c.position, c.torrents) for c in await services.categories(session)]


@async_test
async def test_categories_are_added_last(url: str) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            await services.add_category(session, "linux", "Linux")
            await services.add_category(session, " bsd-2 ", "  BSD   systems ")
        assert await listing(s) == [("linux", "Linux", 0, 0), ("bsd-2", "BSD systems", 1, 0)]


@pytest.mark.parametrize("slug", ["", "Linux", "two words", "-linux", "linux-", "lïnux", "a/b", "x" * 65])
@async_test
async def test_category_slugs_are_address_safe(url: str, slug: str) -> None:
    async with site(url) as s:
        with pytest.raises(CategoryError, match="lower-case letters, digits and hyphens"):
            async with transaction(s.db) as session:
                await services.add_category(session, slug, "Name")
        assert await listing(s) == []


@async_test
async def test_category_slugs_and_names_are_unique(url: str) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            await services.add_category(session, "linux", "Linux")
        with pytest.raises(CategoryError, match="at /c/linux already"):
            async with transaction(s.db) as session:
                await services.add_category(session, "linux", "Other")
        with pytest.raises(CategoryError, match="named “LINUX” already"):
            async with transaction(s.db) as session:
                await services.add_category(session, "linux2", "LINUX")
        with pytest.raises(CategoryError, match="needs a name"):
            async with transaction(s.db) as session:
                await services.add_category(session, "empty", "   ")
        with pytest.raises(CategoryError, match="at most 128"):
            async with transaction(s.db) as session:
                await services.add_category(session, "long", "x" * 129)


@async_test
async def test_renaming_keeps_the_slug(url: str) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            linux = await services.add_category(session, "linux", "Linux")
            await services.add_category(session, "bsd", "BSD")
        async with transaction(s.db) as session:
            await services.rename_category(session, linux.id, "GNU/Linux")
            await services.rename_category(session, linux.id, "gnu/linux")  # its own name, recased
        assert await listing(s) == [("linux", "gnu/linux", 0, 0), ("bsd", "BSD", 1, 0)]
        with pytest.raises(CategoryError, match="named “bsd” already"):
            async with transaction(s.db) as session:
                await services.rename_category(session, linux.id, "bsd")
        with pytest.raises(CategoryError, match="does not exist"):
            async with transaction(s.db) as session:
                await services.rename_category(session, 999, "Ghost")


@async_test
async def test_moving_renumbers_and_stops_at_the_ends(url: str) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            # As if created without positions (all 0): the order is then by id.
            session.add_all([Category(slug=slug, name=slug.upper()) for slug in ("a", "b", "c")])
        async with s.db() as session:
            ids = {c.slug: c.id for c in (await session.scalars(select(Category))).all()}

        async def move(slug: str, offset: int) -> list[str]:
            async with transaction(s.db) as session:
                await services.move_category(session, ids[slug], offset)
            return [slug for slug, *_ in await listing(s)]

        assert await move("c", -1) == ["a", "c", "b"]
        assert [position for _, _, position, _ in await listing(s)] == [0, 1, 2]
        assert await move("c", -1) == ["c", "a", "b"]
        assert await move("c", -1) == ["c", "a", "b"]  # already first
        assert await move("a", 1) == ["c", "b", "a"]
        assert await move("a", 1) == ["c", "b", "a"]  # already last
        with pytest.raises(CategoryError, match="does not exist"):
            async with transaction(s.db) as session:
                await services.move_category(session, 999, 1)


@async_test
async def test_only_unused_categories_can_be_deleted(url: str) -> None:
    async with site(url) as s:
        async with transaction(s.db) as session:
            films = await services.add_category(session, "films", "Films")
            music = await services.add_category(session, "music", "Music")
            empty = await services.add_category(session, "empty", "Empty")
            for n in range(3):
                await add_torrent(session, films, n)
            await add_torrent(session, films, 3, removed=True)
            await add_torrent(session, music, 4, removed=True)
        assert [n for *_, n in await listing(s)] == [4, 1, 0]
        with pytest.raises(CategoryError) as refused:
            async with transaction(s.db) as session:
                await services.delete_category(session, films.id)
        assert str(refused.value) == (
            "“Films” cannot be deleted: 3 torrents and 1 removed torrent still belong to it. "
            "Move them to another category first."
        )
        with pytest.raises(CategoryError, match="1 removed torrent still belongs to it"):
            async with transaction(s.db) as session:
                await services.delete_category(session, music.id)
        async with transaction(s.db) as session:
            await services.delete_category(session, empty.id)
        assert [slug for slug, *_ in await listing(s)] == ["films", "music"]
        with pytest.raises(CategoryError, match="does not exist"):
            async with transaction(s.db) as session:
                await services.delete_category(session, empty.id)


@async_test
async def test_a_database_that_does_not_answer_is_one_line_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/nothing")
    try:
        s = Site(Settings(), session_factory(engine), engine)
        with caplog.at_level(logging.WARNING, logger="swarmdex"):
            config = await services.refresh(s)
        assert config == services.cached(s)  # the configuration's values, still served
        warnings = [r for r in caplog.records if "site settings" in r.getMessage()]
        assert warnings and "does not answer" in warnings[0].getMessage()
        assert all(r.exc_info is None for r in warnings)  # an outage is not a traceback
    finally:
        await engine.dispose()
