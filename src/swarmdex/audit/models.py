"""The `audit_log` table (migration 0008_audit).

Append-only, and the database holds it to that: triggers (see the migration) refuse any
UPDATE or DELETE of a row, so not even a bug, an admin with a SQL prompt by mistake or a
cascade can rewrite history. That is also why the actor is kept as a plain id and a name
copied at the time, not as a foreign key: erasing an account must not touch its entries
(ON DELETE SET NULL would be an update).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from swarmdex.db.models import IDS_NEVER_REUSED, Base, utcnow

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One staff action: who (`actor_id`, `actor_name` as they were), what (`action`, a dotted
    name like "torrent.delete"), to what (`target_type`, `target_id`), the state before and
    after (JSON, only the fields the action changed), an optional note, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_actor_id_at", "actor_id", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: see the module
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


# The same triggers as migration 0008_audit, for tables made from the models (tests).
for _event in ("UPDATE", "DELETE"):
    event.listen(AuditEntry.__table__, "after_create", DDL(  # type: ignore[no-untyped-call]
        f"CREATE TRIGGER audit_log_no_{_event.lower()} BEFORE {_event} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    ).execute_if(dialect="sqlite"))
