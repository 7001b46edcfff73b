"""Commit hooks on a real database: after-commit actions run on commit, before-commit actions
write last; both are dropped on rollback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmdex.db import session_factory, transaction
from swarmdex.db.hooks import after_commit, before_commit, pending
from swarmdex.db.models import Category

from .conftest import async_test, open_engine


class Boom(Exception):
    pass


def category(slug: str) -> Category:
    return Category(slug=slug, name=slug.title())


@async_test
async def test_actions_run_after_the_commit_in_order(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine:
        sessions = session_factory(engine)

        async def rows() -> int:
            async with sessions() as other:
                return await other.scalar(select(func.count()).select_from(Category)) or 0

        before = await rows()
        async with transaction(sessions) as session:
            session.add(category("films"))
            await session.flush()
            after_commit(session, lambda: ran.append("first"))
            after_commit(session, lambda: ran.append("second"))
            assert pending(session) == 2
            assert ran == []
        assert ran == ["first", "second"]
        assert await rows() == before + 1


@async_test
async def test_a_rollback_drops_the_actions(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        with pytest.raises(Boom):
            async with transaction(sessions) as session:
                session.add(category("music"))
                after_commit(session, lambda: ran.append("music"))
                raise Boom
        # A later commit in a session of the same factory runs only its own.
        async with transaction(sessions) as session:
            after_commit(session, lambda: ran.append("later"))
        assert ran == ["later"]


@async_test
async def test_one_session_many_transactions(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine, session_factory(engine)() as session:
        after_commit(session, lambda: ran.append("one"))
        await session.rollback()
        after_commit(session, lambda: ran.append("two"))
        await session.commit()
        await session.commit()  # nothing left to run twice
        assert ran == ["two"]
        assert pending(session) == 0


@async_test
async def test_a_savepoint_rolled_back_drops_only_its_own(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine:
        async with transaction(session_factory(engine)) as session:
            after_commit(session, lambda: ran.append("outer"))
            with pytest.raises(Boom):
                async with session.begin_nested():
                    after_commit(session, lambda: ran.append("inner"))
                    async with session.begin_nested():
                        after_commit(session, lambda: ran.append("innermost"))
                    raise Boom
            async with session.begin_nested():  # released: its action waits for the commit
                after_commit(session, lambda: ran.append("kept"))
            assert ran == []
        assert ran == ["outer", "kept"]


@async_test
async def test_a_released_savepoint_follows_the_outer_rollback(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine:
        with pytest.raises(Boom):
            async with transaction(session_factory(engine)) as session:
                async with session.begin_nested():
                    after_commit(session, lambda: ran.append("released"))
                raise Boom
        assert ran == []


@async_test
async def test_a_failing_action_is_logged_and_the_others_run(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def fails() -> None:
        raise Boom("tracker gone")

    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        with caplog.at_level(logging.ERROR, "swarmdex.db"):
            async with transaction(sessions) as session:
                session.add(category("games"))
                after_commit(session, fails)
                after_commit(session, lambda: ran.append("next"))
        assert ran == ["next"]
        assert "an after-commit action failed" in caplog.text
        async with sessions() as session:  # the commit stands
            assert await session.scalar(select(Category).where(Category.slug == "games"))


@async_test
async def test_before_commit_actions_write_last_in_the_same_transaction(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        seen: list[int] = []

        def last(session: Session) -> None:
            # Everything else is flushed already: the action sees it, and its own write
            # commits with it.
            seen.append(session.scalar(select(func.count()).select_from(Category)) or 0)
            session.add(category("last"))

        async with transaction(sessions) as session:
            before_commit(session, last)
            session.add(category("first"))  # added after registering, flushed before it runs
        assert seen == [1]
        async with sessions() as session:
            assert set(await session.scalars(select(Category.slug))) == {"first", "last"}


@async_test
async def test_before_commit_actions_are_dropped_with_a_rollback_or_savepoint(url: str) -> None:
    ran: list[str] = []
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        with pytest.raises(Boom):
            async with transaction(sessions) as session:
                before_commit(session, lambda _: ran.append("rolled back"))
                raise Boom
        async with transaction(sessions) as session:
            with pytest.raises(Boom):
                async with session.begin_nested():
                    before_commit(session, lambda _: ran.append("savepoint"))
                    raise Boom
            before_commit(session, lambda _: ran.append("kept"))
        assert ran == ["kept"]


@async_test
async def test_a_failing_before_commit_action_fails_the_commit(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)

        def fail(_: Session) -> None:
            raise Boom

        with pytest.raises(Boom):
            async with transaction(sessions) as session:
                session.add(category("lost"))
                before_commit(session, fail)
        async with sessions() as session:
            assert await session.scalar(select(Category).where(Category.slug == "lost")) is None
