"""The privacy page (/privacy), generated from the live settings, and a user's own data:
/account/export (everything stored about them, as JSON) and /account/delete."""

from __future__ import annotations

import json
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.accounts.services import AccountError
from swarmdex.db.engine import transaction
from swarmdex.privacy import account as user_data
from swarmdex.privacy.facts import statements
from swarmdex.privacy.purge import moderation_available
from swarmdex.web.auth import SESSION_LIFETIME, CurrentUser, clear_session_cookie
from swarmdex.web.context import Ctx
from swarmdex.web.password_checks import PasswordCheck, TooManyPasswordChecks, account_key
from swarmdex.web.ratelimit import too_many_attempts
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
FormText = Annotated[str, Form()]


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(request: Request, ctx: Ctx) -> HTMLResponse:
    facts = statements(ctx.settings, session_lifetime=SESSION_LIFETIME,
                       moderation=moderation_available(), peers_persist=ctx.peers_persist)
    return render(request, "privacy/page.html", facts=facts)


@router.get("/account/export")
async def export(ctx: Ctx, user: CurrentUser) -> Response:
    async with ctx.db() as session:
        data = await user_data.export(session, user)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{user.name}-swarmdex.json"',
                 "cache-control": "no-store"},
    )


@router.get("/account/delete", response_class=HTMLResponse)
async def delete_form(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "privacy/delete.html", user=user, error=None, choice="anonymous")


@router.post("/account/delete", dependencies=CSRF)
async def delete(request: Request, ctx: Ctx, user: CurrentUser, password: FormText = "",
                 torrents: FormText = "anonymous") -> Response:
    choice = "delete" if torrents == "delete" else "anonymous"
    check = PasswordCheck(request, account_key(user.name_key))  # the login limits apply
    try:
        await check.start()
    except TooManyPasswordChecks as exc:
        return too_many_attempts(request, exc.seconds)
    try:
        async with transaction(ctx.db) as session:
            mine = await session.merge(user)
            await user_data.delete_account(session, mine, password,
                                           delete_torrents=choice == "delete")
    except AccountError as exc:
        await check.failed()
        return render(request, "privacy/delete.html", status_code=400, user=user,
                      error=exc.message, choice=choice)
    response = RedirectResponse("/?deleted=account", status_code=303)
    clear_session_cookie(response, ctx)
    return response
