"""Delete what passed its retention: `swarmdex purge`, and daily in the running server.

- access log files older than `access_log_retention_days` (by the day in their name);
- expired login sessions;
- resolved reports' `reporter_contact`, `report_contact_retention_days` after resolution,
  when the moderation package is installed (`clear_report_contacts`).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.accounts.services import purge_sessions
from swarmdex.db.engine import transaction
from swarmdex.privacy.accesslog import file_day, log_dir
from swarmdex.settings import Settings

__all__ = [
    "MODERATION_MODELS",
    "Purged",
    "clear_report_contacts",
    "moderation_available",
    "purge",
    "purge_access_logs",
]

# Reports (and their `reporter_contact`) come with the moderation package.
MODERATION_MODELS = "swarmdex.moderation.models"


@dataclass
class Purged:
    access_logs: list[Path] = field(default_factory=list)
    sessions: int = 0
    report_contacts: int | None = None  # None: no moderation package (no reports to clear)

    def lines(self) -> list[str]:
        out = [f"deleted access log {path.name}" for path in self.access_logs]
        out.append(f"deleted {len(self.access_logs)} access log file(s) past retention")
        out.append(f"deleted {self.sessions} expired login session(s)")
        if self.report_contacts is None:
            out.append("reporter contacts: no reports in this version, nothing to clear")
        else:
            out.append(f"cleared the contact details of {self.report_contacts} resolved report(s)")
        return out


def purge_access_logs(data_dir: Path, retention_days: int, now: dt.datetime) -> list[Path]:
    """Delete access log files whose day is more than `retention_days` before `now`'s."""
    directory = log_dir(data_dir)
    if not directory.is_dir():
        return []
    oldest_kept = now.date() - dt.timedelta(days=retention_days)
    removed = []
    for path in sorted(directory.iterdir()):
        day = file_day(path)
        if day is not None and day < oldest_kept:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def moderation_available() -> bool:
    try:
        return importlib.util.find_spec(MODERATION_MODELS) is not None
    except ImportError:
        return False


async def clear_report_contacts(session: AsyncSession, resolved_before: dt.datetime) -> int | None:
    """Clear `reporter_contact` on reports resolved before `resolved_before`; how many.
    None when this version has no reports (no moderation package)."""
    if not moderation_available():
        return None
    from swarmdex.moderation.models import Report

    result = await session.execute(
        update(Report)
        .where(Report.resolved_at.is_not(None), Report.resolved_at < resolved_before,
               Report.reporter_contact.is_not(None))
        .values(reporter_contact=None)
    )
    return cast(CursorResult[Any], result).rowcount


async def purge(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                now: dt.datetime | None = None) -> Purged:
    """Delete everything past its retention as of `now` (default: now)."""
    now = now or dt.datetime.now(dt.UTC)
    done = Purged(access_logs=purge_access_logs(
        settings.data_dir, settings.access_log_retention_days, now))
    async with transaction(sessions) as session:
        done.sessions = await purge_sessions(session, now)
        done.report_contacts = await clear_report_contacts(
            session, now - dt.timedelta(days=settings.report_contact_retention_days))
    return done
