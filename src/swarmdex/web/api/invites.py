"""JSON API for invites, the twin of /account/invites: a member's codes, making one, revoking
one. On a site that is not private every operation answers 404, as the pages do.

A new code is in the answer to the POST only: like the page, the site keeps its SHA-256.
Staff may revoke any open code by id (as on /moderation/invites).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from swarmdex.db.engine import transaction
from swarmdex.private import invites
from swarmdex.web.api import PREFIX, error_responses
from swarmdex.web.auth import ApiUser
from swarmdex.web.context import Ctx
from swarmdex.web.ids import RowId
from swarmdex.web.pages.invites import PRIVATE, register_link, revoke
from swarmdex.web.sitemode import writes

router = APIRouter(prefix=PREFIX, tags=["invites"])


class InviteOut(BaseModel):
    """One invite code (never the code itself: only its maker saw it, once)."""

    id: int
    state: invites.State = Field(description="open, used, expired or revoked.")
    note: str = Field(description="The maker's reminder of whom it is for.")
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None = Field(description="The account made with it; null if unused, or "
                                "if that account was deleted.")
    revoked_at: datetime | None


class InviteList(BaseModel):
    """The codes you made, newest first, and your quota."""

    limit: int | None = Field(description="Invites you may have out; null: no limit.")
    out: int = Field(description="Your open codes, and those used in the last 30 days.")
    left: int | None = Field(description="Codes you may still make; null: no limit.")
    may_exceed: bool = Field(description="Staff may make codes past their limit.")
    invites: list[InviteOut]


class InviteIn(BaseModel):
    note: str = Field("", max_length=invites.NOTE_MAX,
                      description="Optional: for whom it is, as a reminder.")


class InviteCreated(InviteOut):
    """The code just made, shown this once."""

    code: str = Field(description="The invite code; the site keeps only its SHA-256.")
    register_url: str = Field(description="The registration page with the code filled in.")


def _out(view: invites.InviteView) -> InviteOut:
    invite = view.invite
    return InviteOut(id=invite.id, state=view.state, note=invite.note,
                     created_at=invite.created_at, expires_at=invite.expires_at,
                     used_at=invite.used_at, used_by=view.used_by,
                     revoked_at=invite.revoked_at)


@router.get("/invites", response_model=InviteList, summary="Your invite codes",
            dependencies=[PRIVATE], responses=error_responses(401, 403, 404))
async def list_invites(ctx: Ctx, user: ApiUser) -> InviteList:
    """The codes you made (the newest 500), with what became of each, and your quota."""
    async with ctx.db() as session:
        quota = await invites.quota(session, user, ctx.settings)
        made = await invites.made_by(session, user)
    return InviteList(limit=quota.limit, out=quota.out, left=quota.left,
                      may_exceed=quota.may_exceed, invites=[_out(v) for v in made])


@router.post("/invites", response_model=InviteCreated, status_code=201,
             summary="Make an invite code", dependencies=[writes("Registration"), PRIVATE],
             responses=error_responses(400, 401, 403, 404, 422))
async def make_invite(ctx: Ctx, user: ApiUser, body: InviteIn | None = None) -> InviteCreated:
    """A new code, usable once for `invite_lifetime_days`. 403 when your quota is full."""
    try:
        async with transaction(ctx.db) as session:
            made = await invites.make(session, user, ctx.settings,
                                      note=body.note if body is not None else "")
    except invites.NotAllowed as exc:
        raise HTTPException(403, exc.message) from None
    except invites.InviteError as exc:
        raise HTTPException(400, exc.message) from None
    view = invites.InviteView(made.invite, "open", user.name, None)
    return InviteCreated(**_out(view).model_dump(), code=made.code,
                         register_url=register_link(ctx, made.code))


@router.delete("/invites/{invite_id}", status_code=204, response_class=Response,
               summary="Revoke an invite code", dependencies=[PRIVATE],
               responses=error_responses(401, 403, 404, 409))
async def revoke_invite(ctx: Ctx, user: ApiUser, invite_id: RowId) -> Response:
    """Revoke one of your unused codes (staff: anyone's). Revoking a revoked code is no
    error; a used one is a 409."""
    try:
        await revoke(ctx, user, invite_id)
    except invites.InviteError as exc:
        raise HTTPException(409, exc.message) from None
    return Response(status_code=204)
