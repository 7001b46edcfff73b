"""Recording staff actions and reading them back.

`record` is called by the service that performs the action, inside the same transaction:
the entry exists exactly when the action happened (a rollback takes both back). There is
no function to change or remove an entry, and the table refuses it anyway (see models).

Actions are dotted names, "<what>.<verb>": torrent.delete, comment.remove, category.add,
settings.change, user.role, user.ban, takedown.accept... `ACTIONS` lists the ones the site
writes, for the filter on the audit page; new ones need no migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.audit.models import AuditEntry
from swarmdex.db.models import User

__all__ = ["PAGE_SIZE", "AuditPage", "Filters", "entries", "record"]

PAGE_SIZE: Final = 50


async def record(
    session: AsyncSession,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: object,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    """Add an entry for `action` by `actor` (None: the system itself, e.g. a scheduled task)
    in the caller's transaction. `before`/`after` must be JSON-serialisable."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.name if actor is not None else "system",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        note=note,
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class Filters:
    actor: str | None = None  # account name as recorded
    action: str | None = None  # exact, or a prefix ending in "." ("torrent.")
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    older: int | None  # pass as `before_id` for the next page, None on the last


async def entries(session: AsyncSession, filters: Filters = Filters(), *,
                  before_id: int | None = None, per_page: int = PAGE_SIZE) -> AuditPage:
    """Newest first, keyset-paged by id (the log only grows, so pages never shift)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(per_page + 1)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if filters.actor:
        query = query.where(func.lower(AuditEntry.actor_name) == filters.actor.lower())
    if filters.action:
        if filters.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == filters.action)
    if filters.target_type:
        query = query.where(AuditEntry.target_type == filters.target_type)
    if filters.target_id:
        query = query.where(AuditEntry.target_id == filters.target_id)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    rows = list((await session.scalars(query)).all())
    older = rows[per_page - 1].id if len(rows) > per_page else None
    return AuditPage(rows[:per_page], older)
