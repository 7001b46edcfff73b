"""The `swarmdex` command. Alone it means `swarmdex serve`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

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


@main.command()
@_DATA_DIR
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML settings file (default DATA_DIR/swarmdex.toml if present).")
@click.option("--host", "hosts", multiple=True,
              help="Listen address; repeat for several (default 0.0.0.0 and ::).")
@click.option("--port", type=int, help="HTTP port for the site and HTTP tracker (default 8080; 0 picks one).")
@click.option("--udp-port", type=int, help="UDP tracker port (default 6969; 0 picks one).")
@click.option("--tracker-mode", type=click.Choice(["open", "listed"]),
              help="open: any torrent; listed: only those in the allowlist.")
@click.option("--allowlist", type=click.Path(path_type=Path, dir_okay=False),
              help="Hash list for listed mode (default DATA_DIR/allowlist.txt).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True,
              help="Reverse proxy address or network whose X-Forwarded-For is believed; repeatable.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config: Path | None, log_level: str, hosts: tuple[str, ...],
          trusted_proxies: tuple[str, ...], **flags: Any) -> None:
    """Start the site and the HTTP and UDP tracker."""
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
    from swarmdex.node import serve as run  # the server stack is only needed here

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but asyncio works too
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(run(settings, announce=say))
    except OSError as exc:  # listening failed: say so plainly, no traceback
        message = exc.strerror or str(exc)
        raise click.ClickException(f"{message}: {exc.filename}" if exc.filename else message) from None


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
