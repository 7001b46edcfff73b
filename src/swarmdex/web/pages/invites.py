"""Invite pages, on a private site only (elsewhere they are 404s):

- /account/invites: a member's codes and what became of them, the form that makes one
  (the code is shown in that answer only, with its registration link), and revoking.
- /moderation/invites: for staff, the invite tree (who invited whom, from the accounts
  nobody invited) and every open code, each revocable.

The rules are `swarmdex.private.invites`'; registering with a code is on the register page
(`swarmdex.web.pages.accounts`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.private import invites
from swarmdex.web.auth import CurrentUser, require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

__all__ = ["PRIVATE", "private_only", "register_link", "revoke", "router"]


async def private_only(ctx: Ctx) -> None:
    """Invites exist on a private site only."""
    if not ctx.settings.private:
        raise HTTPException(404)


router = APIRouter(include_in_schema=False)
# After `writes` where a route has it: read-only mode answers 503 on every site alike.
PRIVATE: Final = Depends(private_only)
FORM: Final = [PRIVATE, Depends(require_csrf)]  # a private-site form, with its CSRF field
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
FormText = Annotated[str, Form()]

DONE: Final = {"revoked": "The invite was revoked: its code no longer works."}


def register_link(ctx: SiteContext, code: str) -> str:
    return f"{ctx.base_url.rstrip('/')}/register?invite={code}"


async def revoke(ctx: SiteContext, user: User, invite_id: int) -> None:
    """Revoke a code as `user` may (pages and API); 404 for one that is not there or not
    theirs to see, InviteError for one that cannot be revoked."""
    try:
        async with transaction(ctx.db) as session:
            await invites.revoke(session, invite_id, by=user)
    except invites.NotFound as exc:
        raise HTTPException(404, exc.message) from None


# A member's invites


@router.get("/account/invites", response_class=HTMLResponse, dependencies=[PRIVATE])
async def mine(request: Request, ctx: Ctx, user: CurrentUser, done: str = "") -> Response:
    return await _mine_page(request, ctx, user, flash=DONE.get(done))


async def _mine_page(request: Request, ctx: SiteContext, user: User, status_code: int = 200,
                     **values: Any) -> HTMLResponse:
    async with ctx.db() as session:
        quota = await invites.quota(session, user, ctx.settings)
        made = await invites.made_by(session, user)
    values.setdefault("error", None)
    values.setdefault("note", "")
    return render(request, "invites/mine.html", status_code=status_code, quota=quota,
                  made=made, shown=invites.SHOWN, note_max=invites.NOTE_MAX,
                  lifetime_days=ctx.settings.invite_lifetime_days, **values)


@router.post("/account/invites", dependencies=[writes("Registration"), *FORM])
async def make(request: Request, ctx: Ctx, user: CurrentUser, note: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            made = await invites.make(session, user, ctx.settings, note=note)
    except invites.InviteError as exc:
        status = 403 if isinstance(exc, invites.NotAllowed) else 400
        return await _mine_page(request, ctx, user, status, error=exc.message, note=note)
    # The code is in this answer only: never stored, never in a redirect's URL.
    response = await _mine_page(request, ctx, user, new_code=made.code,
                                new_link=register_link(ctx, made.code))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/invites/{invite_id}/revoke", dependencies=FORM)
async def revoke_mine(request: Request, ctx: Ctx, user: CurrentUser,
                      invite_id: RowId) -> Response:
    try:
        await revoke(ctx, user, invite_id)
    except invites.InviteError as exc:
        return await _mine_page(request, ctx, user, 409, error=exc.message)
    return RedirectResponse("/account/invites?done=revoked", status_code=303)


# Staff: the tree and every open code


@router.get("/moderation/invites", response_class=HTMLResponse, dependencies=[PRIVATE])
async def staff_page(request: Request, ctx: Ctx, user: Staff, done: str = "") -> Response:
    return await _staff_page(request, ctx, flash=DONE.get(done))


async def _staff_page(request: Request, ctx: SiteContext, status_code: int = 200,
                      **values: Any) -> HTMLResponse:
    async with ctx.db() as session:
        tree = await invites.tree(session)
        open_codes = await invites.open_invites(session)
    values.setdefault("error", None)
    return render(request, "invites/tree.html", status_code=status_code, tree=tree,
                  open_codes=open_codes, shown=invites.SHOWN, **values)


@router.post("/moderation/invites/{invite_id}/revoke", dependencies=FORM)
async def revoke_any(request: Request, ctx: Ctx, user: Staff, invite_id: RowId) -> Response:
    try:
        await revoke(ctx, user, invite_id)
    except invites.InviteError as exc:
        return await _staff_page(request, ctx, 409, error=exc.message)
    return RedirectResponse("/moderation/invites?done=revoked", status_code=303)
