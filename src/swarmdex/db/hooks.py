"""Commit hooks: work that must happen once a transaction has committed, and only then, or
as the very last thing before it commits.

A domain service changes rows and, in the same breath, something outside the database must
learn of it (the tracker must serve a new torrent, refuse a deleted one). Doing that before
the commit would let a rollback leave the outside world ahead of the database; leaving it to
each caller after the commit is how it gets forgotten. So the service registers the action
on its session (`after_commit`), and the session runs it when the outermost transaction
commits:

- committed: the actions run, in the order they were registered, right after the commit;
- rolled back: they are dropped;
- a savepoint (`begin_nested`) rolled back drops only what was registered inside it; a
  savepoint released keeps its actions for the enclosing transaction's fate.

Actions run synchronously inside the commit call and must not use the session. A failing
action is logged and the others still run: the commit stands whatever an action does.

`before_commit` actions run inside the commit, after everything else the transaction wrote has
been flushed, and may use the (synchronous) session: the last statements of the transaction,
for writes that must hold a lock only for the instant before the commit (the tracker change
feed on PostgreSQL). They follow the same savepoint rules; an exception in one fails the
commit, which then rolls back as a whole.

The listeners are registered on SQLAlchemy's `Session` class when this module is imported,
so they serve every session, `AsyncSession`s included (each wraps a `Session`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["after_commit", "before_commit", "pending"]

log = logging.getLogger("swarmdex.db")

# session.info keys: [(the savepoint it was registered in, or None, action), ...]
_PENDING: Final = "swarmdex.after_commit"
_FINAL: Final = "swarmdex.before_commit"

Action = Callable[[], None]
FinalAction = Callable[[Session], None]


def after_commit(session: AsyncSession | Session, action: Action) -> None:
    """Run `action` once the transaction `session` is in has committed; never if it rolls back."""
    _register(session, _PENDING, action)


def before_commit(session: AsyncSession | Session, action: FinalAction) -> None:
    """Run `action(session)` as the last writes of the transaction `session` is in, when it
    commits; never if it rolls back first."""
    _register(session, _FINAL, action)


def _register(session: AsyncSession | Session, key: str, action: object) -> None:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if sync.get_transaction() is None:
        # Nothing was read or written yet: the action belongs to the transaction the next
        # statement would start, so start it now (no I/O happens until one is run).
        sync.begin()
    savepoint = sync.get_nested_transaction()  # the innermost one, or None
    sync.info.setdefault(key, []).append((savepoint, action))


def pending(session: AsyncSession | Session) -> int:
    """How many actions wait for the commit (for tests)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    return len(sync.info.get(_PENDING, ()))


def _within(savepoint: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether an action registered in `savepoint` was inside the transaction `ended`."""
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False


@event.listens_for(Session, "before_commit")
def _finish(session: Session) -> None:
    if session.in_nested_transaction():
        return
    actions = session.info.pop(_FINAL, None)
    if not actions:
        return
    session.flush()  # everything else first: the actions' writes are the very last
    for _, action in actions:
        action(session)


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outcome is not known yet
        return
    actions = session.info.pop(_PENDING, None)
    for _, action in actions or ():
        try:
            action()
        except Exception:  # the commit has happened; the others must still run
            log.exception("an after-commit action failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    for key in (_PENDING, _FINAL):
        actions = session.info.get(key)
        if not actions:
            continue
        if not previous.nested:  # the whole transaction is gone
            del session.info[key]
        else:
            session.info[key] = [item for item in actions if not _within(item[0], previous)]
