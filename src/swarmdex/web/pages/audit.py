"""The audit log page (/admin/audit, admins only): every staff action, newest first, with
filters by actor, action and target. Read-only: there is nothing here, or anywhere, to
change an entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from swarmdex.audit import services
from swarmdex.db.models import ROW_ID_MAX, Role, User
from swarmdex.web.auth import require_role
from swarmdex.web.context import Ctx
from swarmdex.web.templates import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]
Text = Annotated[str | None, Query(max_length=128)]


def _day(value: str | None) -> datetime | None:
    """A YYYY-MM-DD filter as the start of that day, UTC; anything else is no filter."""
    try:
        return datetime.strptime(value or "", "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _shown(state: dict[str, Any] | None) -> str:
    return "" if state is None else json.dumps(state, ensure_ascii=False, sort_keys=True)


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_log(request: Request, ctx: Ctx, user: Admin, actor: Text = None,
                    action: Text = None, target_type: Text = None, target_id: Text = None,
                    since: Text = None, until: Text = None,
                    before_id: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
                    ) -> HTMLResponse:
    typed = {"actor": actor, "action": action, "target_type": target_type,
             "target_id": target_id, "since": since, "until": until}
    filters = services.Filters(
        actor=actor or None, action=action or None, target_type=target_type or None,
        target_id=target_id or None, since=_day(since), until=_day(until),
    )
    async with ctx.db() as session:
        page = await services.entries(session, filters, before_id=before_id)
    older = None
    if page.older is not None:
        older = "/admin/audit?" + urlencode(
            {k: v for k, v in typed.items() if v} | {"before_id": page.older})
    return render(request, "admin/audit.html", typed={k: v or "" for k, v in typed.items()},
                  entries=[(e, _shown(e.before), _shown(e.after)) for e in page.entries],
                  older=older)
