"""A running `swarmdex serve` as tests outside the process see it: its URLs, and accounts and
API tokens made through the command line, as an operator makes them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from .serve import Serve, swarmdex

CLI_TIMEOUT = 30


@dataclass(frozen=True)
class Account:
    name: str
    password: str


class RunningSite:
    """One `swarmdex serve` on 127.0.0.1 with its own data dir."""

    def __init__(self, server: Serve, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        """`env`: SWARMDEX_* variables the command-line tools need to find the same database
        as the server (SWARMDEX_DATABASE_URL when it is not the data dir's SQLite)."""
        self.server = server
        self.data_dir = data_dir
        self.env = dict(env or {})
        host, port = server.http
        self.netloc = f"{host}:{port}"
        self.base_url = f"http://{self.netloc}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def describe(self) -> str:
        return self.server.describe()

    def create_user(self, prefix: str, role: str = "user") -> Account:
        """A new account made with `swarmdex user create` (a fresh name every call)."""
        account = Account(f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(15))
        password_file = self.data_dir.parent / f"{account.name}.password"
        password_file.write_text(account.password + "\n")
        done = swarmdex("user", "create", account.name, "--role", role,
                        "--password-file", str(password_file), "--data-dir", str(self.data_dir),
                        env=self.env, timeout=CLI_TIMEOUT)
        assert done.returncode == 0, f"user create failed:\n{done.stdout}{done.stderr}"
        return account

    def create_token(self, account: Account) -> str:
        """An API token made with `swarmdex token create` (printed on its last line)."""
        done = swarmdex("token", "create", account.name, "--data-dir", str(self.data_dir),
                        env=self.env, timeout=CLI_TIMEOUT)
        assert done.returncode == 0, f"token create failed:\n{done.stdout}{done.stderr}"
        lines = done.stdout.strip().splitlines()
        assert lines, f"token create printed nothing:\n{done.stderr}"
        return lines[-1].strip()

    def upload(self, token: str, metainfo: bytes, category: str = "linux") -> str:
        """Upload through the JSON API; the new torrent's info hash."""
        answer = httpx.post(self.url("/api/v1/torrents"), headers={"Authorization": f"Bearer {token}"},
                            data={"category": category},
                            files={"file": ("t.torrent", metainfo, "application/x-bittorrent")},
                            timeout=30)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["info_hash"])

    def delete(self, account: Account, info_hash: str) -> None:
        """Delete a torrent as `account` does on its page (log in, then the delete form)."""
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            client.get("/login")
            logged = client.post("/login", data={"csrf_token": client.cookies["sdx_csrf"],
                                                 "name": account.name,
                                                 "password": account.password, "next": "/"})
            assert logged.status_code == 303
            deleted = client.post(f"/t/{info_hash}/delete",
                                  data={"csrf_token": client.cookies["sdx_csrf"]})
            assert deleted.status_code == 200
