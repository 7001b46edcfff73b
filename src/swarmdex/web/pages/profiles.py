"""Profile pages: /u/{name} (public), its identicon /u/{name}/avatar.svg, and the owner's
settings at /account/profile.

The public page lists the user's uploads newest first, paged by the catalogue's cursors
(`after=` / `before=`), and never their anonymous ones (`Filters.uploader_id` leaves those
out, as `/rss/user/{name}` does). Its JSON twin is `GET /api/v1/users/{name}`
(`swarmdex.web.api.users`), with the same query parameters.

Avatars are identicons drawn here, never pictures from another host: see
`swarmdex.profiles.identicon`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.accounts.services import has_role, user_by_name
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.profiles import identicon
from swarmdex.profiles import services as profiles
from swarmdex.search.catalogue import BrowsePage, Filters, browse
from swarmdex.search.swarms import SwarmCounter
from swarmdex.web.auth import CurrentUser, Viewer
from swarmdex.web.bans import Member
from swarmdex.web.context import Ctx
from swarmdex.web.pages.browse import Swarms, flag
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = [
    "UPLOADS_PER_PAGE",
    "avatar_path",
    "feed_path",
    "find_user",
    "profile_path",
    "router",
    "uploads",
]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
FormText = Annotated[str, Form()]

UPLOADS_PER_PAGE: Final = 25
SVG_TYPE: Final = "image/svg+xml"
# An identicon depends only on the account's id and the site's secret: it never changes.
AVATAR_CACHE: Final = "public, max-age=604800"

DONE: Final = {"saved": "Your profile was saved."}
NO_SUCH_USER: Final = "There is no member of that name on this site. Check the spelling, or the link."


def profile_path(user: User) -> str:
    return f"/u/{quote(user.name, safe='')}"


def avatar_path(user: User) -> str:
    return f"{profile_path(user)}/avatar.svg"


def feed_path(user: User) -> str:
    return f"/rss/user/{quote(user.name, safe='')}"


async def find_user(session: AsyncSession, name: str) -> User:
    """The account called `name` (in any case), or a 404 that the error page words kindly."""
    user = await user_by_name(session, name)
    if user is None:
        raise HTTPException(404, NO_SUCH_USER)
    return user


async def uploads(
    session: AsyncSession,
    swarms: SwarmCounter,
    user: User,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = UPLOADS_PER_PAGE,
) -> BrowsePage:
    """One page of the user's public uploads, newest first, with live counts."""
    return await browse(session, swarms, filters=Filters(uploader_id=user.id),
                        after=after, before=before, per_page=per_page)


# --------------------------------------------------------------------------- public page


@router.get("/u/{name}", response_class=HTMLResponse)
async def profile_page(
    request: Request,
    name: str,
    ctx: Ctx,
    swarms: Swarms,
    viewer: Viewer,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    async with ctx.db() as session:
        user = await user_by_name(session, name)
        if user is None:
            # Said here rather than by the app's handler, whose 404 text speaks of pages.
            return render(request, "error.html", status_code=404, status=404, message=NO_SUCH_USER)
        if name != user.name:
            # "ALICE" or a full-width spelling: one address per profile.
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(profile_path(user) + query, status_code=301)
        shown = await profiles.profile(session, user)
        page = await uploads(session, swarms, user, after=after, before=before)
    here = profile_path(user)
    pager: dict[str, str] = {}
    if page.previous is not None:
        pager["first"] = here
        pager["previous"] = f"{here}?{urlencode({'before': page.previous})}"
    if page.next is not None:
        pager["next"] = f"{here}?{urlencode({'after': page.next})}"
    return render(
        request,
        "profiles/profile.html",
        profile=shown,
        path=here,
        avatar_url=avatar_path(user),
        feed=feed_path(user),
        rows=[(e.torrent, e.counts, None, None) for e in page.entries],
        pager=pager,
        paged=after is not None or before is not None,
        # Private mode: the member's figures are for staff only (swarmdex.web.pages.figures).
        figures_link=ctx.settings.private and viewer is not None
        and has_role(viewer, Role.MODERATOR),
    )


@router.get("/u/{name}/avatar.svg")
async def avatar(name: str, ctx: Ctx) -> Response:
    async with ctx.db() as session:
        user = await find_user(session, name)
    image = identicon.svg(identicon.seed(ctx.secret, user.id), title=user.name)
    return Response(image, media_type=SVG_TYPE, headers={"Cache-Control": AVATAR_CACHE})


# --------------------------------------------------------------------------- settings


@router.get("/account/profile", response_class=HTMLResponse)
async def settings_page(request: Request, user: CurrentUser, done: str = "") -> HTMLResponse:
    return _settings_form(request, user, flash=DONE.get(done))


@router.post("/account/profile", dependencies=CSRF)
async def save_settings(
    request: Request,
    ctx: Ctx,
    user: Member,  # a banned member's profile stays as it was until the ban ends
    display_name: FormText = "",
    bio: FormText = "",
    email: FormText = "",
    anonymous_by_default: FormText = "",
    show_donor_badge: FormText = "",
) -> Response:
    try:
        settings = profiles.clean_settings(
            display_name=display_name,
            bio=bio,
            email=email,
            anonymous_by_default=flag(anonymous_by_default),
            show_donor_badge=flag(show_donor_badge),
        )
    except profiles.ProfileError as exc:
        typed = {
            "display_name": display_name, "bio": bio, "email": email,
            "anonymous_by_default": flag(anonymous_by_default),
            "show_donor_badge": flag(show_donor_badge),
        }
        return _settings_form(request, user, 400, errors=exc.errors, values=typed)
    async with transaction(ctx.db) as session:
        await profiles.update_settings(session, user, settings)
    return RedirectResponse("/account/profile?done=saved", status_code=303)


def _settings_form(request: Request, user: User, status_code: int = 200,
                   **values: Any) -> HTMLResponse:
    values.setdefault("errors", {})
    values.setdefault("values", {
        "display_name": user.display_name, "bio": user.bio, "email": user.email or "",
        "anonymous_by_default": user.anonymous_by_default,
        "show_donor_badge": user.show_donor_badge,
    })
    return render(
        request,
        "profiles/settings.html",
        status_code=status_code,
        user=user,
        profile_url=profile_path(user),
        avatar_url=avatar_path(user),
        limits={"display_name": profiles.DISPLAY_NAME_MAX, "bio": profiles.BIO_MAX,
                "email": profiles.EMAIL_MAX},
        **values,
    )
