"""The `swarmdex` command. Alone it means `swarmdex serve`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from swarmdex import __version__
from swarmdex.settings import Settings, SettingsError, load_settings

_DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path), help="State directory (default ./data)."
)


def _settings(config: Path | None, **flags: Any) -> Settings:
    try:
        return load_settings(flags, config=config)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="swarmdex")
@click.pass_context
def main(ctx: click.Context) -> None:
    """swarmdex: a BitTorrent community site with a built-in tracker."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def _process_options(work: Callable[..., None]) -> Callable[..., None]:
    """The options of every command that runs a server process (serve, web, tracker)."""
    options = [
        _DATA_DIR,
        click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                     help="TOML settings file (default DATA_DIR/swarmdex.toml if present)."),
        click.option("--host", "hosts", multiple=True,
                     help="Listen address; repeat for several (default 0.0.0.0 and ::)."),
        click.option("--port", type=int,
                     help="HTTP port for the site and HTTP tracker (default 8080; 0 picks one)."),
        click.option("--udp-port", type=int, help="UDP tracker port (default 6969; 0 picks one)."),
        click.option("--tracker-mode", type=click.Choice(["open", "listed", "private"]),
                     help="open: any torrent; listed: the site's and the allowlist's; private: "
                          "listed, for members with passkeys only."),
        click.option("--allowlist", type=click.Path(path_type=Path, dir_okay=False),
                     help="Hash list for listed mode (default DATA_DIR/allowlist.txt)."),
        click.option("--trusted-proxy", "trusted_proxies", multiple=True,
                     help="Reverse proxy address or network whose X-Forwarded-For is believed; "
                          "repeatable."),
        click.option("--database-url", help="SQLAlchemy URL (default SQLite in DATA_DIR)."),
        click.option("--peer-store-url",
                     help="memory:// (default) or redis://HOST:PORT/DB, where the tracker keeps "
                          "peers."),
        click.option("--log-level", default="info", show_default=True,
                     type=click.Choice(["debug", "info", "warning", "error"])),
    ]
    for option in reversed(options):
        work = option(work)
    return work


@main.command()
@_process_options
def serve(**options: Any) -> None:
    """Start the site and the HTTP and UDP tracker in one process."""
    _run_process("serve", **options)


@main.command()
@_process_options
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes serving the port together (needs a fixed --port).")
def web(workers: int, **options: Any) -> None:
    """Start the site, JSON API and feeds only (no tracker): the web processes of a
    deployment whose tracker nodes share a database and a Redis peer store with them."""
    _run_process("web", workers=workers, **options)


@main.command()
@_process_options
def tracker(**options: Any) -> None:
    """Start the UDP and HTTP tracker only (no site): one tracker node. It follows the
    site's database (the change feed); with --tracker-mode open and the memory store it is a
    stand-alone tracker."""
    _run_process("tracker", **options)


def _run_process(role: Literal["serve", "web", "tracker"], *, config: Path | None, log_level: str,
                 hosts: tuple[str, ...], trusted_proxies: tuple[str, ...], workers: int = 1,
                 **flags: Any) -> None:
    settings = _settings(
        config,
        hosts=list(hosts) or None,
        trusted_proxies=list(trusted_proxies) or None,
        **flags,
    )
    # No access log, no per-request log lines: the tracker keeps no record of its visitors.
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is enough
    from swarmdex.db import DatabaseConfigError
    from swarmdex.db.migrate import MigrationError
    from swarmdex.node import serve as run  # the server stack is only needed here
    from swarmdex.peerstore.base import StoreUnavailable
    from swarmdex.peerstore.factory import PeerStoreConfigError

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but asyncio works too
        runner = asyncio.run
    else:
        runner = uvloop.run
    def one(announce: Callable[[str], None]) -> None:
        try:
            runner(run(settings, announce=announce, role=role))
        except OSError as exc:  # listening failed: say so plainly, no traceback
            message = exc.strerror or str(exc)
            raise click.ClickException(
                f"{message}: {exc.filename}" if exc.filename else message) from None
        except (DatabaseConfigError, MigrationError, PeerStoreConfigError, StoreUnavailable) as exc:
            # No database or peer store: say why, no traceback.
            raise click.ClickException(str(exc)) from None

    if workers == 1:
        one(say)
        return
    if settings.port == 0:
        raise click.UsageError("--workers needs a fixed --port: each worker listens on it")
    from swarmdex.runtime.workers import run_workers

    def worker(index: int) -> None:
        try:  # the first worker prints the addresses and `ready`; the others stay quiet
            one(say if index == 0 else (lambda line: None))
        except click.ClickException as exc:
            exc.show()
            raise SystemExit(exc.exit_code) from None

    sys.exit(run_workers(workers, worker))


@main.group()
def db() -> None:
    """The database: SQLite in DATA_DIR, or the one the database_url setting names."""


@db.command("upgrade")
@_DATA_DIR
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML settings file (default DATA_DIR/swarmdex.toml if present).")
def db_upgrade(config: Path | None, data_dir: Path | None) -> None:
    """Create the database, or migrate it to this version's schema.

    `swarmdex serve` does this by itself before it listens; run it to upgrade ahead of a
    restart, or to prepare a PostgreSQL database.
    """
    from swarmdex.bootstrap import prepare_database
    from swarmdex.db import DatabaseConfigError, create_engine, database_url, display_url
    from swarmdex.db.migrate import MigrationError

    settings = _settings(config, data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run(url: str) -> tuple[str | None, str]:
        engine = create_engine(url)
        try:
            return await prepare_database(engine)
        finally:
            await engine.dispose()

    try:
        url = database_url(settings.data_dir, settings.database_url)
        before, after = asyncio.run(run(url))
    except (DatabaseConfigError, MigrationError) as exc:
        raise click.ClickException(str(exc)) from None
    if before == after:
        click.echo(f"{display_url(url)}: already at schema revision {after}")
    else:
        click.echo(f"{display_url(url)}: migrated from {before or 'nothing'} to schema revision {after}")


@main.group()
def allow() -> None:
    """Manage the torrents served in listed mode (the allowlist file).

    A running server picks changes up within a second.
    """


def _allowlist_path(data_dir: Path | None, allowlist: Path | None) -> Path:
    return _settings(None, data_dir=data_dir, allowlist=allowlist).allowlist_path


def _parse_hashes(hashes: tuple[str, ...]) -> str:
    from swarmdex.tracker.hooks import ListedTorrents

    line = " ".join(h.strip().lower() for h in hashes)
    check = ListedTorrents()
    try:
        v1 = v2 = None
        for h in hashes:
            raw = bytes.fromhex(h)
            if len(raw) == 20 and v1 is None:
                v1 = raw
            elif len(raw) == 32 and v2 is None:
                v2 = raw
            else:
                raise ValueError
        check.add(v1, v2)
    except ValueError:
        raise click.BadParameter("give a 40-hex v1 hash, a 64-hex v2 hash, or one of each") from None
    return line


@allow.command("add")
@click.argument("hashes", nargs=-1, required=True)
@_DATA_DIR
@click.option("--allowlist", type=click.Path(path_type=Path, dir_okay=False))
def allow_add(hashes: tuple[str, ...], data_dir: Path | None, allowlist: Path | None) -> None:
    """Serve a torrent: its v1 hash, v2 hash, or both (a hybrid)."""
    path = _allowlist_path(data_dir, allowlist)
    line = _parse_hashes(hashes)
    existing = path.read_text().splitlines() if path.exists() else []
    if line in existing:
        click.echo("already listed")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, [*existing, line])
    click.echo(f"listed {line}")


@allow.command("remove")
@click.argument("hashes", nargs=-1, required=True)
@_DATA_DIR
@click.option("--allowlist", type=click.Path(path_type=Path, dir_okay=False))
def allow_remove(hashes: tuple[str, ...], data_dir: Path | None, allowlist: Path | None) -> None:
    """Stop serving a torrent given any of its hashes."""
    path = _allowlist_path(data_dir, allowlist)
    wanted = {h.strip().lower() for h in hashes}
    existing = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in existing if not wanted & set(line.split("#", 1)[0].split())]
    if len(kept) == len(existing):
        raise click.ClickException("not listed")
    _write_atomic(path, kept)
    click.echo(f"removed {len(existing) - len(kept)} torrent(s)")


@allow.command("list")
@_DATA_DIR
@click.option("--allowlist", type=click.Path(path_type=Path, dir_okay=False))
def allow_list(data_dir: Path | None, allowlist: Path | None) -> None:
    """Print the served hashes."""
    path = _allowlist_path(data_dir, allowlist)
    if path.exists():
        click.echo(path.read_text(), nl=False)


def _write_atomic(path: Path, lines: list[str]) -> None:
    """Write via a temporary file and rename, so a running server never reads half a list."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.replace(path)


# Accounts: how an operator makes the first admin, and API tokens for scripts.

# The values of swarmdex.db.models.Role, spelt out so `swarmdex --help` need not load the
# database layer (tests check the two agree).
ROLES = ("user", "trusted", "moderator", "admin")
T = TypeVar("T")


def _with_database(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the database (migrating it first), run `work(sessionmaker)`, close it.
    Problems the operator can fix end the command with their message, not a traceback."""
    from swarmdex.accounts.services import AccountError
    from swarmdex.bootstrap import prepare_database
    from swarmdex.db.engine import DatabaseConfigError, create_engine, database_url, session_factory
    from swarmdex.db.migrate import MigrationError

    async def run() -> T:
        if settings.database_url is None:  # SQLite in the data dir, maybe before any `serve`
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url(settings.data_dir, settings.database_url))
        try:
            await prepare_database(engine)
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (AccountError, DatabaseConfigError, MigrationError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


def _read_password(path: Path) -> str:
    # `echo secret > file` leaves a newline that is no part of the password.
    return path.read_text(encoding="utf-8").rstrip("\r\n")


@main.group("user")
def user_group() -> None:
    """Manage accounts."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True,
              help="What the account may do; each role includes the ones before it.")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read the password from this file (a trailing newline is ignored). "
                   "Without it, the password is asked for.")
@_DATA_DIR
def user_create(name: str, role: str, password_file: Path | None, data_dir: Path | None) -> None:
    """Create the account NAME, e.g. the site's first admin."""
    settings = _settings(None, data_dir=data_dir)
    if password_file is not None:
        password = _read_password(password_file)
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def create(sessions: Any) -> None:
        from swarmdex.accounts.services import create_user
        from swarmdex.db.engine import transaction
        from swarmdex.db.models import Role

        async with transaction(sessions) as session:
            await create_user(session, name, password, Role(role))

    _with_database(settings, create)
    click.echo(f"created the {role} account {name}")


@main.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("name")
@click.option("--label", default="command line", show_default=True,
              help="What the token is for, as its owner's account page lists it.")
@_DATA_DIR
def token_create(name: str, label: str, data_dir: Path | None) -> None:
    """Create an API token for the user NAME and print it (on the last line)."""
    settings = _settings(None, data_dir=data_dir)

    async def create(sessions: Any) -> tuple[str, str]:
        from swarmdex.accounts.services import AccountError, create_token, user_by_name
        from swarmdex.db.engine import transaction

        async with transaction(sessions) as session:
            user = await user_by_name(session, name)
            if user is None:
                raise AccountError(f"there is no user called {name!r}")
            return user.name, await create_token(session, user, label)

    owner, token = _with_database(settings, create)
    click.echo(f"API token for {owner} ({label}); it is shown only now, keep it secret:")
    click.echo(token)


# The site mode and notice, set on the database: a running server picks them up within
# about a second (swarmdex.sitecfg.services.REFRESH_SECONDS), its tracker too.

MODES = ("open", "read-only", "closed")  # swarmdex.sitemode.rules.MODES (tests check)


@main.group("site")
def site_group() -> None:
    """The site mode and the notice shown on every page."""


def _site_change(data_dir: Path | None, change: Callable[[Any, Settings], Awaitable[Any]]) -> Any:
    settings = _settings(None, data_dir=data_dir)

    async def work(sessions: Any) -> Any:
        from swarmdex.db.engine import transaction
        from swarmdex.sitemode.rules import ModeError

        try:
            async with transaction(sessions) as session:
                return await change(session, settings)
        except ModeError as exc:
            raise click.UsageError(str(exc)) from None

    return _with_database(settings, work)


@site_group.command("mode")
@click.argument("mode", type=click.Choice(MODES))
@click.option("--notice", help="Also set the notice (Markdown); \"\" removes it.")
@click.option("--level", type=click.Choice(["info", "warning"]), help="The notice's style.")
@_DATA_DIR
def site_mode(mode: str, notice: str | None, level: str | None, data_dir: Path | None) -> None:
    """Put the site in MODE: open, read-only (no uploads, registration or comments) or
    closed (every page and the tracker answer with the notice)."""
    from swarmdex.sitemode.services import set_mode

    config = _site_change(data_dir, lambda session, settings: set_mode(
        session, settings, mode, notice=notice, level=level))
    click.echo(f"site mode: {config.mode}" + (f" (notice: {config.notice_level})" if config.notice else ""))


@site_group.group("notice")
def notice_group() -> None:
    """The banner shown on every page."""


@notice_group.command("set")
@click.argument("text")
@click.option("--level", type=click.Choice(["info", "warning"]), default="info", show_default=True)
@_DATA_DIR
def notice_set(text: str, level: str, data_dir: Path | None) -> None:
    """Show TEXT (Markdown) in a banner on every page."""
    from swarmdex.sitemode.services import set_notice

    config = _site_change(data_dir, lambda session, settings: set_notice(
        session, settings, text, level=level))
    click.echo(f"notice set ({config.notice_level})" if config.notice else "notice removed")


@notice_group.command("clear")
@_DATA_DIR
def notice_clear(data_dir: Path | None) -> None:
    """Remove the banner."""
    from swarmdex.sitemode.services import clear_notice

    _site_change(data_dir, lambda session, settings: clear_notice(session, settings))
    click.echo("notice removed")


@main.command()
@_DATA_DIR
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML settings file (default DATA_DIR/swarmdex.toml if present).")
@click.option("--now", "now_text", metavar="ISO-TIME",
              help="Purge as if it were this UTC time (e.g. 2030-01-31T00:00), to check retention.")
def purge(config: Path | None, data_dir: Path | None, now_text: str | None) -> None:
    """Delete what passed its retention: old access log files, expired login sessions,
    resolved reports' contact details. The server also does this daily."""
    import datetime as dt

    from swarmdex.privacy.purge import purge as run_purge

    settings = _settings(config, data_dir=data_dir)
    now = None
    if now_text is not None:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("an ISO date or time, like 2030-01-31T00:00", param_hint="--now") from None
        now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)

    done = _with_database(settings, lambda sessions: run_purge(sessions, settings, now))
    for line in done.lines():
        click.echo(line)
