"""Account pages: register, log in, log out, and the account page (password, login
sessions, API tokens).

Every form posts with the CSRF field. Registering is rate limited per client address, and
every password check (logging in, changing the password) by `swarmdex.web.password_checks`,
since each attempt costs a password hash and a guess. Passwords are never written back into
a form.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.accounts.services import (
    AccountError,
    authenticate,
    change_password,
    check_name,
    check_password,
    create_token,
    create_user,
    end_session,
    list_sessions,
    list_tokens,
    revoke_other_sessions,
    revoke_session,
    revoke_token,
    session_id,
    start_session,
)
from swarmdex.db.engine import transaction
from swarmdex.db.models import User, fold_name
from swarmdex.moderation.bans import active_ban
from swarmdex.private import invites, passkeys
from swarmdex.sitecfg.services import registration_open
from swarmdex.takedowns import services as takedowns
from swarmdex.web.auth import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    CurrentUser,
    Viewer,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from swarmdex.web.bans import refuse_banned_networks
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.pages.figures import member_standing, member_totals
from swarmdex.web.password_checks import PasswordCheck, TooManyPasswordChecks, account_key
from swarmdex.web.private import FEED_KEY, announce_urls
from swarmdex.web.ratelimit import Rate, attempt, too_many_attempts
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

router = APIRouter(include_in_schema=False)
CSRF = [Depends(require_csrf)]

REGISTER_PER_ADDRESS: Final = Rate(10, 3600.0)

# What /account?done=... says after a change; fixed texts, so the URL cannot inject any.
DONE: Final = {
    "password": "Your password was changed. Every other browser was logged out.",
    "session": "That browser was logged out.",
    "sessions": "Every other browser was logged out.",
    "token": "The token was revoked. Programs using it can no longer sign in.",
    "counter-notice": "Your counter-notice was sent. Staff will review it.",
    "passkey": "You have a new passkey. Download your torrents again: the old ones no longer "
               "announce.",
    "feed-key": "You have a new feed key. Give your feed readers the new addresses: the old "
                "ones no longer open.",
}

FormText = Annotated[str, Form()]


def _go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# Register


@router.get("/register", response_class=HTMLResponse, dependencies=[writes("Registration")])
async def register_form(request: Request, ctx: Ctx, viewer: Viewer, next: str = "/",
                        invite: str = "") -> Response:
    if viewer is not None:
        return _go(safe_next(next))
    return await _register_page(request, ctx, next=next, invite=invite[:200])


async def _register_page(request: Request, ctx: SiteContext, status_code: int = 200,
                         **values: Any) -> HTMLResponse:
    closed = not await registration_open(ctx)
    if closed and request.method == "POST":
        status_code = 403
    values.setdefault("errors", {})
    values.setdefault("name", "")
    values.setdefault("invite", "")
    values["next"] = safe_next(values.get("next"))
    return render(request, "accounts/register.html", status_code=status_code, closed=closed,
                  invite_only=ctx.settings.private, **values)


@router.post("/register",
             dependencies=[writes("Registration"), *CSRF, Depends(refuse_banned_networks)])
async def register(
    request: Request,
    ctx: Ctx,
    name: FormText = "",
    password: FormText = "",
    password2: FormText = "",
    next: FormText = "/",
    invite: FormText = "",
) -> Response:
    if not await registration_open(ctx):  # the page says so, with a 403
        return await _register_page(request, ctx)
    if wait := await attempt(request, "register", REGISTER_PER_ADDRESS):
        return too_many_attempts(request, wait)
    name = name.strip()
    errors = _registration_errors(name, password, password2)
    if ctx.settings.private:  # by invitation only; `invites.join` decides, this only reads
        async with ctx.db() as session:
            if not await invites.usable(session, invite):
                errors["invite"] = invites.NOT_USABLE
    if not errors:
        try:
            async with ctx.db() as session, session.begin():  # not `transaction`: see services
                if ctx.settings.private:  # the account and the code's use, or neither
                    user = await invites.join(session, invite, name, password)
                else:
                    user = await create_user(session, name, password)
                await end_session(session, request.cookies.get(SESSION_COOKIE))
                cookie = await start_session(session, user, SESSION_LIFETIME)
        except AccountError as exc:  # the name was taken meanwhile
            errors[exc.field or "name"] = exc.message
        except invites.InviteError as exc:  # the code was used meanwhile
            errors["invite"] = exc.message
    if errors:
        return await _register_page(request, ctx, 400, errors=errors, name=name, next=next,
                                    invite=invite[:200])
    response = _go(safe_next(next))
    set_session_cookie(response, ctx, cookie)
    return response


def _registration_errors(name: str, password: str, password2: str) -> dict[str, str]:
    """Field name -> what is wrong with it, for everything checkable without the database."""
    errors: dict[str, str] = {}
    try:
        check_name(name)
    except AccountError as exc:
        errors["name"] = exc.message
    try:
        check_password(password, name)
    except AccountError as exc:
        errors["password"] = exc.message
    if "password" not in errors and password != password2:
        errors["password2"] = "The two passwords differ."
    return errors


# Log in, log out


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, viewer: Viewer, next: str = "/") -> Response:
    if viewer is not None:
        return _go(safe_next(next))
    return render(request, "accounts/login.html", name="", error=None, next=safe_next(next))


@router.post("/login", dependencies=CSRF)
async def login(
    request: Request,
    ctx: Ctx,
    name: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    name = name.strip()
    check = PasswordCheck(request, account_key(fold_name(name[:64])))
    try:
        await check.start()
    except TooManyPasswordChecks as exc:
        return too_many_attempts(request, exc.seconds)
    error = "Wrong name or password."
    user: User | None = None
    try:
        # A session of its own: verifying the password holds no lock (see services).
        async with ctx.db() as session:
            user = await authenticate(session, name, password)
            await session.commit()  # a rehashed password, if any
        if user is None:
            await check.failed()
        else:
            async with transaction(ctx.db) as session:
                await end_session(session, request.cookies.get(SESSION_COOKIE))
                cookie = await start_session(session, user, SESSION_LIFETIME)
    except AccountError as exc:  # a disabled account, with the right password
        error, user = exc.message, None
    if user is None:
        return render(request, "accounts/login.html", status_code=400, name=name, error=error,
                      next=safe_next(next))
    # A banned account may log in, to read why (and until when) it cannot take part.
    async with ctx.db() as session:
        banned = await active_ban(session, user.id) is not None
    response = _go("/banned" if banned else safe_next(next))
    set_session_cookie(response, ctx, cookie)
    return response


@router.post("/logout", dependencies=CSRF)
async def logout(request: Request, ctx: Ctx) -> Response:
    async with transaction(ctx.db) as session:
        await end_session(session, request.cookies.get(SESSION_COOKIE))
    response = _go("/")
    clear_session_cookie(response, ctx)
    return response


# The account page


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, ctx: Ctx, user: CurrentUser, done: str = "") -> Response:
    return await _account_page(request, ctx, user, flash=DONE.get(done))


async def _account_page(request: Request, ctx: SiteContext, user: User, status_code: int = 200,
                        **values: Any) -> HTMLResponse:
    async with ctx.db() as session:
        sessions = await list_sessions(session, user)
        tokens = await list_tokens(session, user)
        taken_down = await takedowns.for_uploader(session, user)
    current = request.cookies.get(SESSION_COOKIE)
    values.setdefault("errors", {})
    # Private mode: the member's own announce URLs (with their passkey, made on first use).
    values.setdefault("member_urls", await announce_urls(ctx, request) if ctx.settings.private else [])
    values.setdefault("feed_urls", await _feed_urls(ctx, user) if ctx.settings.private else [])
    # Private mode: what the tracker credited them (their ratio), read fresh on each view.
    values.setdefault("figures", await member_totals(ctx, user.id) if ctx.settings.private else None)
    values.setdefault("standing", await member_standing(ctx, user.id) if ctx.settings.private else None)
    return render(
        request,
        "accounts/account.html",
        status_code=status_code,
        user=user,
        sessions=sessions,
        current_session=session_id(current) if current else None,
        tokens=tokens,
        taken_down=taken_down,
        lifetime_days=SESSION_LIFETIME.days,
        invite_only=ctx.settings.private,  # links to the member's invites
        **values,
    )


@router.post("/account/password", dependencies=CSRF)
async def password(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    current: FormText = "",
    new: FormText = "",
    new2: FormText = "",
) -> Response:
    if new != new2:
        return await _account_page(request, ctx, user, 400,
                                   errors={"new2": "The two new passwords differ."})
    # A stolen session must not become a free password oracle: the login limits apply.
    check = PasswordCheck(request, account_key(user.name_key))
    try:
        await check.start()
    except TooManyPasswordChecks as exc:
        return too_many_attempts(request, exc.seconds)
    try:
        async with ctx.db() as session, session.begin():  # hashing holds no lock (see services)
            await change_password(session, user, current, new)
            # Whoever else knew the old password is logged out with it.
            await revoke_other_sessions(session, user, request.cookies.get(SESSION_COOKIE))
    except AccountError as exc:
        if exc.field == "current":
            await check.failed()
        # The rules speak of "password"; on this form that is the new one.
        field = "current" if exc.field == "current" else "new"
        return await _account_page(request, ctx, user, 400, errors={field: exc.message})
    return _go("/account?done=password#password")


@router.post("/account/sessions/{login_session}/revoke", dependencies=CSRF)
async def revoke_one_session(request: Request, ctx: Ctx, user: CurrentUser,
                             login_session: str) -> Response:
    try:
        key = bytes.fromhex(login_session)
    except ValueError:
        raise HTTPException(404) from None
    async with transaction(ctx.db) as session:
        if not await revoke_session(session, user, key):
            raise HTTPException(404, "That session has ended already.")
    current = request.cookies.get(SESSION_COOKIE)
    if current and session_id(current) == key:  # logged this very browser out
        response = _go("/")
        clear_session_cookie(response, ctx)
        return response
    return _go("/account?done=session#sessions")


@router.post("/account/sessions/revoke-others", dependencies=CSRF)
async def revoke_others(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    async with transaction(ctx.db) as session:
        await revoke_other_sessions(session, user, request.cookies.get(SESSION_COOKIE))
    return _go("/account?done=sessions#sessions")


@router.post("/account/passkey/reset", dependencies=CSRF)
async def reset_passkey(ctx: Ctx, user: CurrentUser) -> Response:
    """A new passkey (private mode); the old one is refused by every tracker node as soon
    as the change reaches them."""
    if not ctx.settings.private:
        raise HTTPException(404)
    async with transaction(ctx.db) as session:
        await passkeys.reset_passkey(session, user)
    return _go("/account?done=passkey#passkey")


async def _feed_urls(ctx: SiteContext, user: User) -> list[str]:
    """Private mode: the member's feeds with their feed key (made on first use)."""
    async with transaction(ctx.db) as session:
        key = await passkeys.rss_key_of(session, user)
    base, query = ctx.base_url.rstrip("/"), f"?{FEED_KEY}={key}"
    return [f"{base}/rss{query}", f"{base}/rss/user/{quote(user.name, safe='')}{query}"]


@router.post("/account/feed-key/reset", dependencies=CSRF)
async def reset_feed_key(ctx: Ctx, user: CurrentUser) -> Response:
    """A new feed key (private mode); the old one opens nothing from the commit on."""
    if not ctx.settings.private:
        raise HTTPException(404)
    async with transaction(ctx.db) as session:
        await passkeys.reset_rss_key(session, user)
    return _go("/account?done=feed-key#feed-key")


@router.post("/account/tokens", dependencies=CSRF)
async def new_token(request: Request, ctx: Ctx, user: CurrentUser,
                    name: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            token = await create_token(session, user, name)
    except AccountError as exc:
        return await _account_page(request, ctx, user, 400, errors={"token_name": exc.message},
                                   token_name=name)
    # Shown in this answer only; never stored, never in a URL or a cookie.
    response = await _account_page(request, ctx, user, new_token=token, new_token_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke", dependencies=CSRF)
async def revoke_one_token(ctx: Ctx, user: CurrentUser, token_id: RowId) -> Response:
    async with transaction(ctx.db) as session:
        if not await revoke_token(session, user, token_id):
            raise HTTPException(404, "That token was revoked already.")
    return _go("/account?done=token#tokens")
