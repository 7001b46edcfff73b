"""After-commit hooks: work that must happen once a transaction has committed, and only then.

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

__all__ = ["after_commit", "pending"]

log = logging.getLogger("swarmdex.db")

# session.info key: [(the savepoint it was registered in, or None, action), ...]
_PENDING: Final = "swarmdex.after_commit"

Action = Callable[[], None]


def after_commit(session: AsyncSession | Session, action: Action) -> None:
    """Run `action` once the transaction `session` is in has committed; never if it rolls back."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if sync.get_transaction() is None:
        # Nothing was read or written yet: the action belongs to the transaction the next
        # statement would start, so start it now (no I/O happens until one is run).
        sync.begin()
    savepoint = sync.get_nested_transaction()  # the innermost one, or None
    sync.info.setdefault(_PENDING, []).append((savepoint, action))


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
    actions = session.info.get(_PENDING)
    if not actions:
        return
    if not previous.nested:  # the whole transaction is gone
        del session.info[_PENDING]
        return
    session.info[_PENDING] = [item for item in actions if not _within(item[0], previous)]
