"""Headers every answer carries, and CSRF protection for forms.

CSRF uses a double-submit token: a random value in an HttpOnly, SameSite=Lax cookie, which
every form repeats in a hidden field. A cross-site form cannot read the cookie, so it cannot
repeat it. Together with SameSite session cookies this covers logged-in and anonymous forms
(login, register) alike, with nothing stored on the server.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request

CSRF_COOKIE = "sdx_csrf"
CSRF_FIELD = "csrf_token"

_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"interest-cohort=()"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): adds `_HEADERS` to every
    answer, and gives every visitor without one a CSRF cookie."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.cookie_flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure_cookies else "")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _cookie(scope, CSRF_COOKIE)
        new_cookie = None
        if token is None or len(token) != 43:
            token = secrets.token_urlsafe(32)
            new_cookie = f"{CSRF_COOKIE}={token}{self.cookie_flags}".encode()
        scope.setdefault("state", {})["csrf"] = token

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _HEADERS if h[0] not in present]
                if new_cookie is not None:
                    headers.append((b"set-cookie", new_cookie))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return str(v)
    return None


def csrf_token(request: Request) -> str:
    """The token forms on this page must carry (see SecurityHeaders)."""
    token: str = request.state.csrf
    return token


async def require_csrf(request: Request) -> None:
    """FastAPI dependency for form posts: the hidden field must repeat the cookie."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(sent, cookie):
        raise HTTPException(403, "This form has expired or came from another site. Reload and try again.")
