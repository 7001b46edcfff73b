"""Account pages through the real ASGI app: register, log in and out, the account page,
CSRF, rate limits, closed registration, API tokens, and the `user` / `token` commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI

from swarmdex.accounts.services import disable_user, session_id, token_user, user_by_name
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.web.auth import SESSION_COOKIE, ApiUser
from swarmdex.web.security import CSRF_COOKIE, CSRF_FIELD
from tests.support.databases import configured_url

from .helpers import PASSWORD, Site, async_test, csrf_token, post_form, running_site

NEW_PASSWORD = "another long passphrase"


def _session_cookie(response: httpx.Response) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    return header


def _logged_in_as(page: httpx.Response) -> str | None:
    found = re.search(r'<a href="/account">([^<]+)</a>', page.text)
    return found.group(1) if found else None


def _add_whoami(site: Site) -> None:
    """A tiny API route behind `api_user`, as the real API routes use it."""
    api: FastAPI = site.app.app

    @api.get("/api/v1/test/whoami")
    async def whoami(user: ApiUser) -> dict[str, str]:
        return {"name": user.name}


@async_test
async def test_register_logout_login_change_password_and_create_a_token(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        browser = site.client()
        page = await browser.get("/register")
        assert page.status_code == 200
        assert f'name="{CSRF_FIELD}" value="{await csrf_token(browser)}"' in page.text

        answer = await post_form(browser, "/register", name="Alice", password=PASSWORD,
                                 password2=PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = _session_cookie(answer)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert _logged_in_as(await browser.get("/")) == "Alice"

        answer = await post_form(browser, "/logout")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert _logged_in_as(await browser.get("/")) is None
        answer = await browser.get("/account")
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/account"

        for name, password in (("alice", "not the password"), ("nobody-at-all", PASSWORD)):
            answer = await post_form(browser, "/login", name=name, password=password)
            assert answer.status_code == 400
            assert "Wrong name or password." in answer.text
            assert f'value="{name}"' in answer.text and password not in answer.text

        answer = await post_form(browser, "/login", name="ALICE", password=PASSWORD,
                                 next="/account")
        assert answer.status_code == 303 and answer.headers["location"] == "/account"
        account = await browser.get("/account")
        assert account.status_code == 200 and "this browser" in account.text

        # Another browser of Alice's is logged out by a password change; this one is not.
        elsewhere = await site.logged_in("alice")
        assert (await elsewhere.get("/account")).status_code == 200
        answer = await post_form(browser, "/account/password", current="wrong password!",
                                 new=NEW_PASSWORD, new2=NEW_PASSWORD)
        assert answer.status_code == 400 and "current password is not correct" in answer.text
        answer = await post_form(browser, "/account/password", current=PASSWORD,
                                 new=NEW_PASSWORD, new2="something else entirely")
        assert answer.status_code == 400 and "differ" in answer.text
        answer = await post_form(browser, "/account/password", current=PASSWORD,
                                 new=NEW_PASSWORD, new2=NEW_PASSWORD)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/account?done=password")
        assert "was changed" in (await browser.get(answer.headers["location"])).text
        assert (await elsewhere.get("/account")).status_code == 303

        answer = await post_form(browser, "/account/tokens", name="upload script")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        token = re.search(r'value="(sdx_[^"]+)"', answer.text)
        assert token is not None
        async with site.ctx.db() as session:
            owner = await token_user(session, token.group(1))
            assert owner is not None and owner.name == "Alice"
        account = await browser.get("/account")
        assert "upload script" in account.text and token.group(1) not in account.text

        token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', account.text)
        assert token_id is not None
        answer = await post_form(browser, f"/account/tokens/{token_id.group(1)}/revoke")
        assert answer.status_code == 303
        async with site.ctx.db() as session:
            assert await token_user(session, token.group(1)) is None


@async_test
async def test_registration_errors_keep_the_name_and_never_the_password(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("taken")
        browser = site.client()
        weak = "password123"
        answer = await post_form(browser, "/register", name="bob", password=weak, password2=weak)
        assert answer.status_code == 400
        assert 'value="bob"' in answer.text and weak not in answer.text
        assert 'aria-invalid="true"' in answer.text and "too easy to guess" in answer.text

        answer = await post_form(browser, "/register", name="TAKEN", password=PASSWORD,
                                 password2=PASSWORD)
        assert answer.status_code == 400 and "That name is taken" in answer.text

        answer = await post_form(browser, "/register", name="bob", password=PASSWORD,
                                 password2=PASSWORD + "!")
        assert answer.status_code == 400 and "The two passwords differ." in answer.text
        assert SESSION_COOKIE not in browser.cookies


@async_test
async def test_every_input_has_a_label(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        for client, path in ((site.client(), "/register"), (site.client(), "/login"),
                             (alice, "/account")):
            page = (await client.get(path)).text
            main = page[page.index("<main"):]
            inputs = re.findall(r"<input [^>]*>", main)
            ids = [re.search(r'id="([^"]+)"', i) for i in inputs
                   if 'type="hidden"' not in i and " hidden" not in i]
            assert ids and all(ids), path
            for found in ids:
                assert found is not None and f'for="{found.group(1)}"' in main, (path, found)


@async_test
async def test_forms_without_the_csrf_token_are_refused(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        browser = await site.logged_in("alice")
        await csrf_token(browser)
        for path in ("/login", "/register", "/logout", "/account/tokens"):
            missing = await browser.post(path, data={"name": "alice", "password": PASSWORD})
            assert missing.status_code == 403, path
            wrong = await browser.post(path, data={CSRF_FIELD: "x" * 43, "name": "alice"})
            assert wrong.status_code == 403, path
        # The token of another browser does not do either.
        other = site.client()
        theirs = await csrf_token(other)
        assert theirs != browser.cookies[CSRF_COOKIE]
        answer = await browser.post("/logout", data={CSRF_FIELD: theirs})
        assert answer.status_code == 403
        assert (await browser.get("/account")).status_code == 200  # still logged in


@async_test
async def test_login_attempts_are_limited_per_address(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        # An empty password is refused before any hashing: these attempts are cheap.
        browser = site.client("192.0.2.1")
        for _ in range(10):
            answer = await post_form(browser, "/login", name=f"user{_}", password="")
            assert answer.status_code == 400
        answer = await post_form(browser, "/login", name="someone", password="")
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) > 0
        assert "Too many attempts" in answer.text
        # Another address may still try (per account: see test_password_limits).
        assert (await post_form(site.client("192.0.2.2"), "/login", name="x",
                                password="")).status_code == 400


@async_test
async def test_registrations_are_limited_per_address(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        browser = site.client("192.0.2.1")
        for _ in range(10):  # bad names are refused without hashing: cheap attempts
            answer = await post_form(browser, "/register", name="x", password="", password2="")
            assert answer.status_code == 400
        answer = await post_form(browser, "/register", name="x", password="", password2="")
        assert answer.status_code == 429


@async_test
async def test_closed_registration(tmp_path: Path) -> None:
    async with running_site(tmp_path, registration="closed") as site:
        browser = site.client()
        page = await browser.get("/register")
        assert page.status_code == 200 and "Registration is closed" in page.text
        assert 'action="/register"' not in page.text
        answer = await post_form(browser, "/register", name="bob", password=PASSWORD,
                                 password2=PASSWORD)
        assert answer.status_code == 403 and "Registration is closed" in answer.text
        async with site.ctx.db() as session:
            assert await user_by_name(session, "bob") is None


@async_test
async def test_after_login_only_this_sites_pages_are_gone_to(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("alice")
        for next_value, expected in (("/t/abc?x=1", "/t/abc?x=1"), ("//evil.example/", "/"),
                                     ("https://evil.example/", "/"), ("/\\evil.example", "/")):
            browser = site.client()
            answer = await post_form(browser, "/login", name="alice", password=PASSWORD,
                                     next=next_value)
            assert answer.status_code == 303 and answer.headers["location"] == expected
        answer = await (await site.logged_in("alice")).get("/login?next=//evil.example")
        assert answer.status_code == 303 and answer.headers["location"] == "/"


@async_test
async def test_login_required_pages_come_back_after_login(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("alice")
        browser = site.client()
        answer = await browser.get("/account?done=token")
        assert answer.status_code == 303
        target = answer.headers["location"]
        assert target == "/login?next=/account%3Fdone%3Dtoken"
        page = await browser.get(target)
        assert 'name="next" value="/account?done=token"' in page.text
        answer = await post_form(browser, "/login", name="alice", password=PASSWORD,
                                 next="/account?done=token")
        assert answer.headers["location"] == "/account?done=token"


@async_test
async def test_sessions_can_be_ended_from_the_account_page(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        here = await site.logged_in("alice")
        phone, laptop = await site.logged_in("alice"), await site.logged_in("alice")
        phone_id = session_id(phone.cookies[SESSION_COOKIE]).hex()
        answer = await post_form(here, f"/account/sessions/{phone_id}/revoke")
        assert answer.status_code == 303
        assert (await phone.get("/account")).status_code == 303
        assert (await post_form(here, f"/account/sessions/{phone_id}/revoke")).status_code == 404
        assert (await post_form(here, "/account/sessions/nothex/revoke")).status_code == 404

        bob = await site.logged_in("bob")
        laptop_id = session_id(laptop.cookies[SESSION_COOKIE]).hex()
        assert (await post_form(bob, f"/account/sessions/{laptop_id}/revoke")).status_code == 404
        assert (await laptop.get("/account")).status_code == 200

        answer = await post_form(here, "/account/sessions/revoke-others")
        assert answer.status_code == 303
        assert (await laptop.get("/account")).status_code == 303
        assert (await here.get("/account")).status_code == 200

        here_id = session_id(here.cookies[SESSION_COOKIE]).hex()
        answer = await post_form(here, f"/account/sessions/{here_id}/revoke")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert SESSION_COOKIE not in here.cookies


@async_test
async def test_a_disabled_account_is_logged_out_and_its_tokens_stop(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        _add_whoami(site)
        browser = await site.logged_in("alice")
        token = await site.api_token("alice")
        api = site.client()
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await api.get("/api/v1/test/whoami", headers=bearer)).json() == {"name": "alice"}
        async with transaction(site.ctx.db) as session:
            user = await user_by_name(session, "alice")
            assert user is not None
            await disable_user(session, user)
        assert _logged_in_as(await browser.get("/")) is None
        assert (await api.get("/api/v1/test/whoami", headers=bearer)).status_code == 401
        answer = await post_form(site.client(), "/login", name="alice", password=PASSWORD)
        assert answer.status_code == 400 and "disabled" in answer.text


@async_test
async def test_the_api_wants_a_bearer_token(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        _add_whoami(site)
        api = site.client()
        for headers in ({}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": "Bearer"}):
            answer = await api.get("/api/v1/test/whoami", headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "API token" in answer.json()["detail"]
        answer = await api.get("/api/v1/test/whoami", headers={"Authorization": "Bearer sdx_nope"})
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
        # A browser session is not an API credential.
        browser = await site.logged_in("alice")
        assert (await browser.get("/api/v1/test/whoami")).status_code == 401


@async_test
async def test_cookies_are_secure_on_an_https_site(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        site.ctx.base_url = "https://swarmdex.example"
        await site.create_user("alice")
        answer = await post_form(site.client(), "/login", name="alice", password=PASSWORD)
        assert "Secure" in _session_cookie(answer)


def _swarmdex(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line on the test's database (its --data-dir, or the PostgreSQL one)."""
    env = dict(os.environ)
    if (url := configured_url()) is not None:
        env["SWARMDEX_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "swarmdex", *args], capture_output=True,
                          text=True, timeout=60, check=False, env=env)


@async_test
async def test_operators_create_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    made = _swarmdex("user", "create", "Root", "--role", "admin", "--password-file",
                     str(password_file), "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    assert "Root" in made.stdout
    again = _swarmdex("user", "create", "root", "--password-file", str(password_file),
                      "--data-dir", str(data))
    assert again.returncode != 0 and "taken" in again.stderr and "Traceback" not in again.stderr
    minted = _swarmdex("token", "create", "root", "--data-dir", str(data))
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip().splitlines()[-1]
    missing = _swarmdex("token", "create", "nobody", "--data-dir", str(data))
    assert missing.returncode != 0 and "nobody" in missing.stderr

    async with running_site(data) as site:  # the same database file
        _add_whoami(site)
        answer = await site.client().get("/api/v1/test/whoami",
                                          headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"name": "Root"}
        admin = await site.logged_in("root")  # the password from the file, newline stripped
        async with site.ctx.db() as session:
            user = await user_by_name(session, "root")
        assert isinstance(user, User) and user.role is Role.ADMIN
        answer = await post_form(site.client(), "/login", name="root", password=PASSWORD)
        assert answer.status_code == 303
        assert (await admin.get("/account")).status_code == 200
