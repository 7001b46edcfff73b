"""Operator settings: the admin page's overrides over the frozen `Settings`, and categories.

The configuration file (and environment, and flags) give every setting its default; the
admin page stores overrides in `site_settings`. `effective()` merges the two.

The site reads the merged values on every page (the site name is in every page's header), so
each process keeps them in memory instead of querying per page view:

- `cached(site)` answers without any I/O: the last values read (the configuration's until
  the first read). `swarmdex.web.templates.render` uses it.
- `current(site)` reads the database again when its copy is older than `REFRESH_SECONDS`;
  the site's middleware awaits it before each request, so the copy is loaded before the
  first page after a start, and `registration_open` / `upload_limit` use it.
- The admin page calls `remember(site, config)` once its change has committed: the
  process serving the admin sees the change at once; other processes on the same database
  (a scaled-out site) see it within `REFRESH_SECONDS`.

The copy is kept per database (per `async_sessionmaker`), in a weak mapping, so it lives
exactly as long as the site that uses it.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.audit import services as audit
from swarmdex.db.engine import database_unavailable
from swarmdex.db.models import Category, Torrent, User
from swarmdex.settings import Settings
from swarmdex.sitecfg.models import SiteSetting
from swarmdex.sitemode import rules as moderules

__all__ = [
    "CATEGORY_NAME_MAX",
    "REFRESH_SECONDS",
    "SITE_NAME_MAX",
    "SLUG_MAX",
    "UPLOAD_MAX_BYTES_CEILING",
    "UPLOAD_MAX_BYTES_FLOOR",
    "CategoryError",
    "CategoryView",
    "ConfigError",
    "Site",
    "SiteConfig",
    "add_category",
    "cached",
    "categories",
    "current",
    "defaults",
    "delete_category",
    "effective",
    "move_category",
    "record_change",
    "refresh",
    "registration_open",
    "remember",
    "rename_category",
    "store_override",
    "update",
    "upload_limit",
]

log = logging.getLogger(__name__)

SITE_NAME_MAX: Final = 80  # as `Settings.site_name`
# Bounds of the upload limit the admin page may set. The floor is the configuration's; the
# ceiling keeps one upload's buffer (the .torrent is read into memory) within reason.
UPLOAD_MAX_BYTES_FLOOR: Final = 1024
UPLOAD_MAX_BYTES_CEILING: Final = 100 * 1024 * 1024
SLUG_MAX: Final = 64  # `Category.slug`
CATEGORY_NAME_MAX: Final = 128  # `Category.name`
# One small query a second at most: a site mode set from the CLI reaches a running server,
# and its tracker, within about a second (swarmdex.node refreshes even without page views).
REFRESH_SECONDS: Final = 1.0
RETRY_SECONDS: Final = 5.0  # after a failed read: serve the last values, try again soon

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")

KEY_SITE_NAME: Final = "site_name"
KEY_REGISTRATION: Final = "registration"
KEY_UPLOAD_MAX_BYTES: Final = "upload_max_bytes"
# Set by `swarmdex.sitemode.services`, not by `update` (the admin page's settings form).
KEY_MODE: Final = "mode"
KEY_NOTICE: Final = "notice"
KEY_NOTICE_LEVEL: Final = "notice_level"


class ConfigError(ValueError):
    """A setting value that cannot be used; the message can be shown to the admin."""


class CategoryError(ValueError):
    """A category change that cannot be made; the message can be shown to the admin."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """The settings the site runs with: the configuration's, with the admin page's on top."""

    site_name: str
    registration_open: bool
    upload_max_bytes: int
    # Keys set in the admin page (`site_settings`), as opposed to the configuration.
    overridden: frozenset[str] = frozenset()
    # The site mode and the banner (swarmdex.sitemode): no configuration value, these
    # exist only as admin settings.
    mode: moderules.Mode = "open"
    notice: str = ""  # Markdown; empty: no banner
    notice_level: moderules.Level = "info"


class Site(Protocol):
    """What these functions need of the site's context (`swarmdex.web.context.SiteContext`),
    named here so that this package does not import the web layer."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> async_sessionmaker[AsyncSession]: ...


def defaults(settings: Settings) -> SiteConfig:
    """The configuration's values, before any override."""
    return SiteConfig(
        site_name=settings.site_name,
        registration_open=settings.registration == "open",
        upload_max_bytes=settings.upload_max_bytes,
    )


# Validation: one function per key, used on the admin's input and on values read back (a
# value stored by another version of swarmdex is ignored rather than trusted).


def _site_name(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError("The site name must be text.")
    # One line of plain text: it goes into every page's <title> and header.
    name = " ".join(value.split())
    if not name:
        raise ConfigError("The site name cannot be empty.")
    if len(name) > SITE_NAME_MAX:
        raise ConfigError(f"The site name can be at most {SITE_NAME_MAX} characters long.")
    return name


def _registration_open(value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError("Registration is either open or closed.")
    return value


def _upload_max_bytes(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError("The upload size limit must be a whole number of bytes.")
    if not UPLOAD_MAX_BYTES_FLOOR <= value <= UPLOAD_MAX_BYTES_CEILING:
        raise ConfigError(
            f"The upload size limit must be between {UPLOAD_MAX_BYTES_FLOOR // 1024} KiB and "
            f"{UPLOAD_MAX_BYTES_CEILING // (1024 * 1024)} MiB."
        )
    return value


_FIELDS: Final[Mapping[str, tuple[str, Callable[[object], Any]]]] = {
    # stored key: (SiteConfig attribute, validator)
    KEY_SITE_NAME: ("site_name", _site_name),
    KEY_REGISTRATION: ("registration_open", _registration_open),
    KEY_UPLOAD_MAX_BYTES: ("upload_max_bytes", _upload_max_bytes),
}


_MODE_FIELDS: Final[Mapping[str, tuple[str, Callable[[object], Any]]]] = {
    KEY_MODE: ("mode", moderules.check_mode),
    KEY_NOTICE: ("notice", moderules.check_notice),
    KEY_NOTICE_LEVEL: ("notice_level", moderules.check_level),
}


def _stored(key: str, config: SiteConfig) -> object:
    return getattr(config, _FIELDS[key][0])


async def effective(session: AsyncSession, settings: Settings) -> SiteConfig:
    """The settings the site runs with now: `settings` with the stored overrides on top."""
    values: dict[str, Any] = {}
    overridden: set[str] = set()
    fields = {**_FIELDS, **_MODE_FIELDS}
    for row in (await session.scalars(select(SiteSetting))).all():
        if row.key not in fields:
            continue  # written by a newer swarmdex, or left from an older one
        attribute, validate = fields[row.key]
        try:
            values[attribute] = validate(row.value)
        except (ConfigError, moderules.ModeError) as exc:
            log.warning("ignoring the stored setting %s: %s", row.key, exc)
            continue
        overridden.add(row.key)
    base = defaults(settings)
    return SiteConfig(
        site_name=values.get("site_name", base.site_name),
        registration_open=values.get("registration_open", base.registration_open),
        upload_max_bytes=values.get("upload_max_bytes", base.upload_max_bytes),
        mode=values.get("mode", base.mode),
        notice=values.get("notice", base.notice),
        notice_level=values.get("notice_level", base.notice_level),
        overridden=frozenset(overridden),
    )


async def update(
    session: AsyncSession,
    settings: Settings,
    *,
    site_name: str,
    registration_open: bool,
    upload_max_bytes: int,
    by: User | None = None,
) -> SiteConfig:
    """Store the admin page's values; return the settings now in effect.

    A value equal to the configuration's is stored as no override at all, so a later change
    of the configuration file takes effect for it. Raises ConfigError, changing nothing, when
    any value is unusable. Call `remember` once the transaction has committed.
    """
    wanted = SiteConfig(
        site_name=_site_name(site_name),
        registration_open=_registration_open(registration_open),
        upload_max_bytes=_upload_max_bytes(upload_max_bytes),
    )
    base = defaults(settings)
    before = await effective(session, settings)
    for key in _FIELDS:
        await store_override(session, key, _stored(key, wanted), _stored(key, base))
    after = await effective(session, settings)
    await record_change(session, by, "settings.change", before, after,
                        [name for name, _ in _FIELDS.values()])
    return after


async def store_override(session: AsyncSession, key: str, value: object, default: object) -> None:
    """Keep `value` for `key` as an override of `default`: a value equal to the default is
    stored as no row at all, so a later change of the configuration takes effect for it."""
    row = await session.get(SiteSetting, key)
    if value == default:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(SiteSetting(key=key, value=value))
    elif row.value != value:
        row.value = value
    await session.flush()


async def record_change(session: AsyncSession, by: User | None, action: str, before: SiteConfig,
                        after: SiteConfig, names: Sequence[str]) -> None:
    """Audit a settings change: the fields among `names` that differ, before and after."""
    changed = [name for name in names if getattr(before, name) != getattr(after, name)]
    if changed:
        await audit.record(session, by, action, "site", "settings",
                           before={name: getattr(before, name) for name in changed},
                           after={name: getattr(after, name) for name in changed})


# The per-process copy (see the module docstring).


@dataclass
class _Copy:
    settings: Settings
    config: SiteConfig
    fresh_until: float
    # Bumped by `remember`: a read that began before an admin's change must not undo it.
    generation: int = 0


_copies: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], _Copy] = (
    weakref.WeakKeyDictionary()
)


# Callbacks told of every change of a site's settings (see `watch`), per database like
# the copies.
_watchers: weakref.WeakKeyDictionary[
    async_sessionmaker[AsyncSession], list[Callable[[SiteConfig], None]]
] = weakref.WeakKeyDictionary()


def watch(site: Site, callback: Callable[[SiteConfig], None]) -> None:
    """Call `callback` with the settings now and again whenever this process's copy
    changes: for what must not look them up itself, like the tracker's hot path."""
    _watchers.setdefault(site.db, []).append(callback)
    callback(cached(site))


def cached(site: Site) -> SiteConfig:
    """The settings as last read, without any I/O (the configuration's before the first read)."""
    copy = _copies.get(site.db)
    if copy is None or copy.settings is not site.settings:
        return defaults(site.settings)
    return copy.config


async def current(site: Site) -> SiteConfig:
    """The settings, read from the database when the copy in memory is stale."""
    copy = _copies.get(site.db)
    now = time.monotonic()
    if copy is not None and copy.settings is site.settings:
        if now < copy.fresh_until:
            return copy.config
        # This caller reads again; requests arriving meanwhile keep using the copy.
        copy.fresh_until = now + RETRY_SECONDS
    return await refresh(site)


async def refresh(site: Site) -> SiteConfig:
    """Read the settings now and keep them. On a database error, log it and keep serving
    the last values (or the configuration's), trying again after `RETRY_SECONDS`."""
    copy = _copies.get(site.db)
    generation = copy.generation if copy is not None else 0
    try:
        async with site.db() as session:
            config = await effective(session, site.settings)
        fresh_for = REFRESH_SECONDS
    except (SQLAlchemyError, OSError) as exc:
        if database_unavailable(exc):  # expected while the database is away: one line
            log.warning("cannot read the site settings (the database does not answer: %s); "
                        "serving the last known ones", str(exc).splitlines()[0][:300])
        else:
            log.warning("cannot read the site settings; serving the last known ones",
                        exc_info=True)
        config = cached(site)
        fresh_for = RETRY_SECONDS
    copy = _copies.get(site.db)
    if copy is not None and copy.generation != generation:
        return copy.config  # an admin's change landed while we read: it is newer
    _keep(site, config, fresh_for, generation)
    return config


def remember(site: Site, config: SiteConfig) -> None:
    """Use `config` from now on in this process (call it after the change has committed)."""
    copy = _copies.get(site.db)
    _keep(site, config, REFRESH_SECONDS, (copy.generation + 1) if copy is not None else 1)


def _keep(site: Site, config: SiteConfig, fresh_for: float, generation: int) -> None:
    changed = cached(site) != config
    _copies[site.db] = _Copy(
        settings=site.settings,
        config=config,
        fresh_until=time.monotonic() + fresh_for,
        generation=generation,
    )
    if changed:
        for callback in _watchers.get(site.db, ()):
            callback(config)


async def registration_open(site: Site) -> bool:
    """Whether visitors may create accounts now (the admin page's choice, else the
    configuration's `registration`)."""
    return (await current(site)).registration_open


async def upload_limit(site: Site) -> int:
    """The largest .torrent file accepted now, in bytes (the admin page's choice, else the
    configuration's `upload_max_bytes`)."""
    return (await current(site)).upload_max_bytes


# Categories. Their slug is their address (/c/SLUG, the API's `category`) and never changes
# once created: links and feed subscriptions keep working across a rename.


@dataclass(frozen=True, slots=True)
class CategoryView:
    id: int
    slug: str
    name: str
    position: int
    torrents: int  # rows referring to it, removed torrents included (they keep the category)


async def categories(session: AsyncSession) -> list[CategoryView]:
    """Every category in display order, with how many torrents use it."""
    used = (
        select(Torrent.category_id, func.count().label("n"))
        .group_by(Torrent.category_id)
        .subquery()
    )
    rows = await session.execute(
        select(Category, func.coalesce(used.c.n, 0))
        .outerjoin(used, used.c.category_id == Category.id)
        .order_by(Category.position, Category.id)
    )
    return [
        CategoryView(c.id, c.slug, c.name, c.position, int(n)) for c, n in rows.all()
    ]


def _category_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise CategoryError("A category needs a name.")
    if len(name) > CATEGORY_NAME_MAX:
        raise CategoryError(f"A category name can be at most {CATEGORY_NAME_MAX} characters long.")
    return name


async def _name_taken(session: AsyncSession, name: str, *, other_than: int | None = None) -> bool:
    query = select(Category.id).where(func.lower(Category.name) == name.lower())
    if other_than is not None:
        query = query.where(Category.id != other_than)
    return (await session.scalar(query.limit(1))) is not None


async def _get(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise CategoryError("That category does not exist (any more).")
    return category


async def add_category(session: AsyncSession, slug: str, name: str, *,
                       by: User | None = None) -> Category:
    """A new category, placed last. The slug: lower-case letters, digits and inner hyphens."""
    slug = slug.strip()
    if not slug or len(slug) > SLUG_MAX or not _SLUG.fullmatch(slug):
        raise CategoryError(
            f"A category address is 1 to {SLUG_MAX} lower-case letters, digits and hyphens "
            "(not at either end), like “linux-isos”."
        )
    name = _category_name(name)
    if await session.scalar(select(Category.id).where(Category.slug == slug)) is not None:
        raise CategoryError(f"There is a category at /c/{slug} already.")
    if await _name_taken(session, name):
        raise CategoryError(f"There is a category named “{name}” already.")
    last = await session.scalar(select(func.max(Category.position)))
    category = Category(slug=slug, name=name, position=(last + 1) if last is not None else 0)
    session.add(category)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # another admin added the same slug just now
        raise CategoryError(f"There is a category at /c/{slug} already.") from None
    await audit.record(session, by, "category.add", "category", slug, after={"name": name})
    return category


async def rename_category(session: AsyncSession, category_id: int, name: str, *,
                          by: User | None = None) -> Category:
    """Give a category a new name (its slug, and so its address, stays)."""
    category = await _get(session, category_id)
    name = _category_name(name)
    if await _name_taken(session, name, other_than=category.id):
        raise CategoryError(f"There is a category named “{name}” already.")
    if category.name != name:
        await audit.record(session, by, "category.rename", "category", category.slug,
                           before={"name": category.name}, after={"name": name})
    category.name = name
    await session.flush()
    return category


async def move_category(session: AsyncSession, category_id: int, offset: int, *,
                        by: User | None = None) -> None:
    """Move a category `offset` places (-1: up, 1: down), within bounds.

    Positions are renumbered 0, 1, 2... as a side effect: categories created with the default
    position 0 get a stable, distinct order the first time any of them is moved.
    """
    ordered = list(
        (await session.scalars(select(Category).order_by(Category.position, Category.id))).all()
    )
    index = next((i for i, c in enumerate(ordered) if c.id == category_id), None)
    if index is None:
        raise CategoryError("That category does not exist (any more).")
    target = min(max(index + offset, 0), len(ordered) - 1)
    if target != index:
        await audit.record(session, by, "category.move", "category", ordered[index].slug,
                           before={"position": index}, after={"position": target})
    ordered.insert(target, ordered.pop(index))
    for position, category in enumerate(ordered):
        if category.position != position:
            category.position = position
    await session.flush()


async def delete_category(session: AsyncSession, category_id: int, *,
                          by: User | None = None) -> None:
    """Delete a category no torrent uses; CategoryError (changing nothing) otherwise."""
    category = await _get(session, category_id)
    used, removed = (
        await session.execute(
            select(func.count(), func.count(Torrent.deleted_at)).where(
                Torrent.category_id == category.id
            )
        )
    ).one()
    if used:
        raise CategoryError(_still_used(category.name, used - removed, removed))
    await session.delete(category)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # a torrent was filed under it just now: the foreign key refuses
        raise CategoryError(_still_used(category.name, 1, 0)) from None
    await audit.record(session, by, "category.delete", "category", category.slug,
                       before={"name": category.name})


def _still_used(name: str, listed: int, removed: int) -> str:
    parts = []
    if listed:
        parts.append(f"{listed} torrent{'s' if listed != 1 else ''}")
    if removed:
        # Removed torrents keep their row (and category) until purged.
        parts.append(f"{removed} removed torrent{'s' if removed != 1 else ''}")
    verb = "belongs" if listed + removed == 1 else "belong"
    return (
        f"“{name}” cannot be deleted: {' and '.join(parts)} still {verb} to it. "
        "Move them to another category first."
    )
