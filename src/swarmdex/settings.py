"""One typed Settings object: defaults < TOML file < SWARMDEX_* environment < CLI flags.

Nothing reads configuration at import time: `load_settings` is called once by the CLI and
the result is passed down. Unknown keys are errors, wherever they come from, so a typo in
a config file or an environment variable is caught at start instead of silently ignored.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

ENV_PREFIX = "SWARMDEX_"
CONFIG_NAME = "swarmdex.toml"


class SettingsError(ValueError):
    """Configuration that cannot be used, with a message fit for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Where swarmdex keeps its state.")
    hosts: Annotated[list[str], NoDecode] = Field(
        ["0.0.0.0", "::"],
        description="Addresses to listen on (HTTP and UDP). IPv6 ones that cannot be bound "
        "are skipped with a warning when they come from the defaults.",
    )
    port: int = Field(8080, ge=0, le=65535, description="HTTP port: site, /announce, /scrape.")
    udp_port: int = Field(6969, ge=0, le=65535, description="UDP tracker port (BEP 15).")
    public_host: str | None = Field(
        None, description="Host name to print in announce URLs (default: the first listen host)."
    )

    site_name: str = Field("swarmdex", min_length=1, max_length=80, description="Shown on every page.")
    base_url: str | None = Field(
        None, description="The site's public URL, e.g. https://example.org (default http://HOST:PORT)."
    )
    registration: Literal["open", "closed"] = Field("open", description="Who may create accounts.")
    upload_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest .torrent file accepted, in bytes."
    )
    repeat_infringer_notices: int = Field(
        3, ge=0, description="Standing takedowns (legal notices accepted and not restored) "
        "after which an uploader may no longer upload; 0 turns the rule off.",
    )
    announce_urls: Annotated[list[str], NoDecode] | None = Field(
        None,
        description="Tracker URLs written into downloaded .torrent files and magnet links "
        "(default: this server's HTTP and UDP announce URLs).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL (default sqlite+aiosqlite:///DATA_DIR/swarmdex.db)."
    )

    tracker_mode: Literal["open", "listed", "private"] = Field(
        "listed",
        description="listed: only the site's torrents (and the allowlist file); open: any info "
        "hash; private: a members-only site whose tracker serves its torrents to members, each "
        "announcing with their passkey.",
    )
    accounting_flush_seconds: float = Field(
        5.0, gt=0, le=300, description="Private mode: seconds between writes of the members' "
        "upload and download credit to the database (a crash loses at most this much).",
    )
    min_ratio: float = Field(
        0.0, ge=0, le=100, description="Private mode: the ratio (credited upload / download) "
        "a member needs to start downloads once they have downloaded min_ratio_after_gib; "
        "seeding is never refused. 0: no minimum.",
    )
    min_ratio_after_gib: float = Field(
        10.0, ge=0, description="Private mode: GiB downloaded before min_ratio applies.",
    )
    hit_and_run_seed_hours: float = Field(
        0.0, ge=0, le=10_000, description="Private mode: hours a member must seed a torrent "
        "they downloaded more than hit_and_run_min_fraction of, within "
        "hit_and_run_within_days of starting it. 0: no hit-and-run rule.",
    )
    hit_and_run_within_days: float = Field(14.0, gt=0, le=3650)
    hit_and_run_min_fraction: float = Field(0.1, ge=0, le=1)
    hit_and_run_limit: int = Field(
        3, ge=1, le=1000, description="Private mode: hit-and-runs from which a member may not "
        "start downloads (fewer are warnings on their account page).",
    )
    client_allowlist: Annotated[list[str], NoDecode] = Field(
        [], description="Private mode: peer id prefixes of the clients that may announce, e.g. "
        "-qB,-TR,-LT,-DE (qBittorrent, Transmission, libtorrent, Deluge); empty: any client.",
    )
    max_clients_per_torrent: int = Field(
        3, ge=1, le=100, description="Private mode: the most clients (peer ids) one member may "
        "have in one torrent's swarm at once.",
    )
    accounting_max_rate: int = Field(
        125_000_000, ge=1, description="Private mode: the most bytes a second a member is "
        "credited for, per torrent and client (default 1 Gbit/s); more is kept as raw only.",
    )
    allowlist: Path | None = Field(
        None, description="File of served hashes in listed mode (default DATA_DIR/allowlist.txt)."
    )
    interval: int = Field(1800, ge=60, description="Seconds between a peer's announces.")
    interval_jitter: int = Field(180, ge=0, description="Random seconds added to each interval.")
    min_interval: int = Field(300, ge=0, description="Announces sooner than this are abuse.")
    numwant_default: int = Field(50, ge=0, le=200)
    numwant_max: int = Field(200, ge=1, le=1000)
    peer_ttl: int | None = Field(
        None, ge=60, description="Seconds before a silent peer is dropped (default 1.5 x interval)."
    )
    gc_interval: float = Field(30.0, gt=0, description="Seconds between expiry sweeps.")
    peer_store_url: str = Field(
        "memory://", description="Where peers live: memory:// (this process) or "
        "redis://HOST:PORT/DB (shared by every tracker node; ?prefix=NAME: to share a Redis).",
    )
    max_peers: int = Field(
        4_000_000, ge=1, description="Peers the tracker keeps in memory; past it the least "
        "useful swarms (one peer or none) are evicted, new peers refused only if none is found.",
    )
    max_swarms: int = Field(
        500_000, ge=1, description="Swarms the tracker keeps in memory (about 420 bytes for a "
        "swarm of one peer); past it the least useful swarms are evicted to make room.",
    )
    connection_id_lifetime: int = Field(120, ge=60, le=3600)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [], description="Addresses or networks whose X-Forwarded-For and ip= are believed."
    )
    donations_webhook_secret: SecretStr | None = Field(
        None,
        description="Shared secret the payment provider signs donation webhooks with "
        "(HMAC-SHA256); POST /api/v1/donations/webhook answers 404 while it is unset.",
    )
    donations_max_amount: Decimal = Field(
        Decimal("100000"),
        gt=0,
        description="Largest amount one ledger entry may have, in the currency's main unit "
        "(euros, yen...): anything above is refused as a typo or an attack.",
    )
    access_log: bool = Field(
        False,
        description="Write a daily access log (DATA_DIR/logs/access-YYYY-MM-DD.log) of site "
        "requests, client addresses truncated to their /24 (IPv4) or /48 (IPv6). Off: no "
        "request is recorded anywhere.",
    )
    access_log_retention_days: int = Field(
        7, ge=1, le=3650, description="Days an access log file is kept before `swarmdex purge` "
        "(and the server's daily purge) deletes it.",
    )
    report_contact_retention_days: int = Field(
        30, ge=1, le=3650, description="Days a resolved report keeps its reporter's contact "
        "details before the purge clears them.",
    )

    # Abuse limits. Each group below belongs to one part of the program; keep new limits in
    # the group of the part that enforces them.
    # -- HTTP connections (tracker/http_server.py, web/asgi.py) --
    http_body_max_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest request body the site reads, in bytes "
        "(a 100,000-character news post, percent-encoded, is about 1.2 MB); more is refused "
        "with 413 before it is read. The .torrent upload routes take upload_max_bytes plus "
        "room for their other fields instead.",
    )
    http_head_timeout: float = Field(
        20.0, gt=0, description="Seconds a request's whole head (request line and headers) may "
        "take to arrive, from its first byte: a client trickling it byte by byte is cut off.",
    )
    http_body_grace: float = Field(
        20.0, gt=0, description="Seconds a request body may take before http_body_min_rate "
        "applies to it.",
    )
    http_body_min_rate: int = Field(
        500, ge=1, description="Slowest a request body may arrive, in bytes a second on "
        "average after http_body_grace; a body slower or stalled is cut off.",
    )
    http_connections_per_address: int = Field(
        256, ge=1, description="Connections one address (IPv6: one /64) may hold open on the "
        "HTTP port, site and tracker together; trusted_proxies are not capped.",
    )
    http_max_connections: int | None = Field(
        None, ge=1, description="Connections the HTTP port holds in all (default, and at "
        "most: the open files limit, raised to its hard limit at start, minus http_fd_reserve).",
    )
    http_fd_reserve: int = Field(
        256, ge=16, description="Open files kept free of HTTP connections, for the database, "
        "the UDP tracker, logs and uploads being read.",
    )
    # -- uploads (torrents/, bittorrent/metainfo.py) --
    upload_max_files: int = Field(
        100_000, ge=1, description="Most files (pad files included) one torrent may list; "
        "large data sets have tens of thousands.",
    )
    upload_max_path_depth: int = Field(
        32, ge=1, le=64, description="Most components in one file path of a torrent.",
    )
    upload_max_path_chars: int = Field(
        20_000_000, ge=1000, description="Most characters all file paths of one torrent may "
        "add up to, as stored and listed (a v2 file tree can otherwise spell out far more "
        "than the file holds).",
    )
    upload_parse_cpu_seconds: float = Field(
        20.0, gt=0, le=600, description="CPU time reading one .torrent may take (in a child "
        "process, off the event loop); a file needing more is refused. A 10 MB torrent of "
        "60,000 files takes 3-8 s.",
    )
    uploads_per_account_per_hour: int = Field(
        30, ge=1, description="Uploads one account may make in an hour (all at once, or "
        "spread out); more are answered 429 with Retry-After.",
    )
    uploads_per_address_per_hour: int = Field(
        60, ge=1, description="Uploads from one client address (IPv6: its /64) in an hour, "
        "whatever the account; more are answered 429 with Retry-After.",
    )
    # -- tracker swarms and peers (tracker/, peerstore/) --
    max_peers_per_address: int = Field(
        8, ge=1, description="Peers one address (IPv6: one /64) may have in one swarm: room "
        "for a household behind one NAT, none for filling a swarm with made-up peers.",
    )
    new_swarms_burst: int = Field(
        300, ge=1, description="New swarms one address (IPv6: one /64) may start at once, "
        "e.g. a seedbox announcing all its torrents to a restarted tracker.",
    )
    new_swarms_per_minute: int = Field(
        60, ge=1, description="New swarms one address may start per minute once its burst "
        "is spent; past it the announce is refused with a reason and can be retried.",
    )
    min_interval_enforced: bool = Field(
        True, description="A peer announcing again sooner than min_interval after its "
        "previous announce is recorded (its events count) but gets no peers, so announcing "
        "in a loop cannot harvest a swarm. false: every announce gets peers.",
    )
    new_peer_lists_per_min_interval: int = Field(
        8, ge=0, description="Answers with peers that new peers from one address (IPv6: one "
        "/64) get from one swarm per min_interval, so fresh ports cannot stand in for early "
        "re-announces; beyond, new peers are recorded but get no peers. 0: no limit.",
    )
    # -- accounts and logins (accounts/, web/ratelimit.py) --
    password_checks_per_address_per_minute: int = Field(
        10, ge=1, le=10_000, description="Password checks (logins, password changes, account "
        "deletions), right or wrong, one address (IPv6: its /64) may make per minute.",
    )
    login_failures_per_account_address_per_hour: int = Field(
        10, ge=1, le=10_000, description="Wrong passwords for one account from one address per "
        "hour; past it, that address may not try that account until they age out.",
    )
    login_failures_per_account_per_hour: int = Field(
        30, ge=1, le=100_000, description="Wrong passwords for one account from anywhere per hour; "
        "past it, only addresses with no recent failure on it may try (its owner still logs in).",
    )

    # -- invites, in private mode (private/invites.py) --
    invites_per_member: int = Field(
        2, ge=0, le=1000, description="Invites an ordinary member may have out at once: codes "
        "open (unused, unexpired, unrevoked) plus codes used in the last 30 days. 0: members "
        "cannot invite.",
    )
    invites_per_trusted: int = Field(
        5, ge=0, le=1000, description="As invites_per_member, for trusted uploaders.",
    )
    invites_per_moderator: int = Field(
        10, ge=0, le=1000, description="As invites_per_member, for moderators; they may go "
        "past it (every code staff make is in the audit log). Admins have no quota.",
    )
    invite_lifetime_days: int = Field(
        14, ge=1, le=365, description="Days an invite code can be used after it is made.",
    )

    @field_validator("hosts", "trusted_proxies", "announce_urls", "client_allowlist", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        """Lists from the environment: `a,b` or JSON `["a", "b"]`."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("not a JSON list") from None
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.startswith(("http://", "https://")):
                raise ValueError("base_url must start with http:// or https://")
            value = value.rstrip("/")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.numwant_default > self.numwant_max:
            raise ValueError("numwant_default must not exceed numwant_max")
        if self.min_interval > self.interval:
            raise ValueError("min_interval must not exceed interval")
        return self

    @property
    def effective_peer_ttl(self) -> int:
        return self.peer_ttl or (self.interval * 3) // 2

    @property
    def allowlist_path(self) -> Path:
        return self.allowlist or self.data_dir / "allowlist.txt"

    @property
    def serves_listed(self) -> bool:
        """The tracker serves the site's torrents and the allowlist file's only."""
        return self.tracker_mode != "open"

    @property
    def private(self) -> bool:
        return self.tracker_mode == "private"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML layer is merged by load_settings (its path depends on data_dir); here
        # only CLI flags (init) over the environment.
        return init_settings, env_settings


def _unknown_env(environ: Mapping[str, str]) -> list[str]:
    # Environment names match in any case, as pydantic-settings reads them.
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    known.add(ENV_PREFIX + "CONFIG")
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(cli: dict[str, Any] | None = None, *, config: Path | None = None) -> Settings:
    """Build Settings from every layer. `cli` holds only the flags the user actually gave."""
    environ = os.environ
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    unknown = _unknown_env(environ)
    if unknown:
        raise SettingsError(f"unknown setting in environment: {', '.join(unknown)}")

    if config is None and environ.get(ENV_PREFIX + "CONFIG"):
        config = Path(environ[ENV_PREFIX + "CONFIG"])
    if config is None:
        data_dir = cli.get("data_dir") or environ.get(ENV_PREFIX + "DATA_DIR") or "data"
        candidate = Path(data_dir) / CONFIG_NAME
        config = candidate if candidate.is_file() else None
    file_values: dict[str, Any] = {}
    if config is not None:
        try:
            file_values = tomllib.loads(config.read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {config}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config}: {exc}") from None
        unknown_keys = sorted(set(file_values) - set(Settings.model_fields))
        if unknown_keys:
            raise SettingsError(f"{config}: unknown setting(s): {', '.join(unknown_keys)}")

    # Environment beats the file: drop file keys that the environment sets.
    env_keys = {k[len(ENV_PREFIX):].lower() for k in environ if k.upper().startswith(ENV_PREFIX)}
    merged = {k: v for k, v in file_values.items() if k not in env_keys} | cli
    try:
        return Settings(**merged)
    except SourceError as exc:  # a value the environment source could not even parse
        raise SettingsError(f"invalid settings: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
