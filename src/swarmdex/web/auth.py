"""Who is asking: the logged-in browser (`load_viewer`) or the API client (`api_user`).

Pages: `load_viewer` runs for every request (an app-level dependency) and sets
`request.state.viewer`, which every template shows. Handlers take one of

    viewer: Viewer            # User | None
    user: CurrentUser         # a User, or a redirect to /login?next=<this page>
    user: Annotated[User, Depends(require_role(Role.MODERATOR))]   # else 403 (also if banned)

API routes take `user: ApiUser` (a Bearer token; 401 JSON otherwise).

The browser holds the login session in the `sdx_session` cookie: HttpOnly (no script reads
it), SameSite=Lax (other sites' forms do not carry it), Secure when the site is served over
https. A disabled account counts as logged out everywhere, and its tokens stop working; so do a
banned account's tokens (403, with the reason), while the ban lasts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Final
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from swarmdex.accounts.services import has_role, session_user, token_user
from swarmdex.db.models import Role, User
from swarmdex.moderation.models import UserBan
from swarmdex.moderation.services import active_ban
from swarmdex.web.context import Ctx, SiteContext

__all__ = [
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "ApiUser",
    "CurrentUser",
    "LoginRequired",
    "Viewer",
    "api_user",
    "clear_session_cookie",
    "load_viewer",
    "login_redirect",
    "require_role",
    "require_user",
    "safe_next",
    "set_session_cookie",
]

SESSION_COOKIE: Final = "sdx_session"
# Fixed from login, not extended by use (see accounts.services): log in again monthly.
SESSION_LIFETIME: Final = timedelta(days=30)
BEARER_REALM: Final = 'Bearer realm="swarmdex"'


class LoginRequired(Exception):
    """Raised by `require_user` for a visitor who is not logged in; `login_redirect`
    (installed in create_app) turns it into a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def load_viewer(request: Request, ctx: Ctx) -> User | None:
    """The logged-in user, also left in `request.state.viewer` for templates."""
    request.state.viewer = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:  # no cookie, no database query: most visitors are not logged in
        async with ctx.db() as session:
            request.state.viewer = await session_user(session, cookie)
    viewer: User | None = request.state.viewer
    return viewer


Viewer = Annotated[User | None, Depends(load_viewer)]


async def require_user(request: Request, viewer: Viewer) -> User:
    if viewer is None:
        # Only a page can be come back to; after a form post, land on the home page.
        # The path as sent (still percent-encoded), so it survives the trip through ?next=.
        raw = request.scope.get("raw_path", b"").decode("latin-1").partition("?")[0]
        path = raw or request.url.path
        here = path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(here if request.method in ("GET", "HEAD") else "/")
    return viewer


CurrentUser = Annotated[User, Depends(require_user)]


def require_role(role: Role) -> Callable[[User, SiteContext], Awaitable[User]]:
    """A dependency: the logged-in user if they have `role` (or a higher one) and no ban in
    force, else 403. Every staff page builds on it, so a ban binds moderators and admins too:
    they keep their role, to be given back its powers when the ban ends, but cannot use it."""

    async def dependency(user: CurrentUser, ctx: Ctx) -> User:
        if not has_role(user, role):
            raise HTTPException(403, f"This page is for the site's {role.value}s.")
        async with ctx.db() as session:  # staff only: members never pay for this query
            ban = await active_ban(session, user.id)
        if ban is not None:
            raise HTTPException(403, f"Your account is banned {_until(ban)}, and staff powers "
                                     f"are suspended with it. Reason: {ban.reason}")
        return user

    return dependency


def _until(ban: UserBan) -> str:
    return "for good" if ban.ends_at is None else f"until {ban.ends_at:%Y-%m-%d %H:%M} UTC"


# Declared to FastAPI so the OpenAPI description (and /api/docs) shows how to authenticate;
# auto_error off, so the 401 below says what to do.
_bearer = HTTPBearer(auto_error=False, description="An API token from your account page.")


async def api_user(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """The owner of the request's `Authorization: Bearer` API token; 401 otherwise."""
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise HTTPException(
            401,
            "This needs an API token: send 'Authorization: Bearer <token>'. "
            "Create one on your account page.",
            headers={"WWW-Authenticate": BEARER_REALM},
        )
    async with ctx.db() as session:
        user = await token_user(session, token)
        await session.commit()  # the last-used time, when it was due
        ban = await active_ban(session, user.id) if user is not None else None
    if user is None:
        raise HTTPException(
            401,
            "This API token is not valid: it was revoked, mistyped, or its account is disabled.",
            headers={"WWW-Authenticate": f'{BEARER_REALM}, error="invalid_token"'},
        )
    if ban is not None:  # the token works again once the ban ends
        raise HTTPException(403, f"This account is banned {_until(ban)}. Reason: {ban.reason}")
    return user


ApiUser = Annotated[User, Depends(api_user)]


def safe_next(value: str | None) -> str:
    """Where to go after logging in: `value` if it is a path on this site, else "/".

    Anything that a browser could read as another site ("//evil", "/\\evil", "https:...")
    or that hides control characters is refused: no open redirects.
    """
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


async def login_redirect(request: Request, exc: Exception) -> Response:
    """Exception handler for LoginRequired: pages go to the login form, the API gets 401."""
    next_path = exc.next_path if isinstance(exc, LoginRequired) else "/"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "Not logged in."}, status_code=401,
                            headers={"WWW-Authenticate": BEARER_REALM})
    target = "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
    return RedirectResponse(target, status_code=303)


def set_session_cookie(response: Response, ctx: SiteContext, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.base_url.startswith("https://"),
    )


def clear_session_cookie(response: Response, ctx: SiteContext) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.base_url.startswith("https://"),
    )
