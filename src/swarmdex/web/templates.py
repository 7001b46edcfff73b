"""Jinja2 set-up: autoescaping everywhere, a few filters, one `render` for every page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from swarmdex import __version__
from swarmdex.markup import render_markdown
from swarmdex.sitecfg import services as sitecfg
from swarmdex.web.security import CSRF_FIELD, csrf_token

TEMPLATES = Path(__file__).parent / "templates"


def filesize(n: int | None) -> str:
    """1536 -> '1.5 KiB'; binary units, as clients show them."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def ago(when: dt.datetime | None) -> str:
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = int((dt.datetime.now(dt.UTC) - when).total_seconds())
    for size, name in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"


def ratio(value: float | None, uploaded: int = 0) -> str:
    """A share ratio (private mode); with nothing downloaded there is none: "∞" if something
    was uploaded, a dash if nothing was (see swarmdex.private.figures)."""
    if value is None:
        return "∞" if uploaded else "\u2013"  # an en dash: no figure
    return f"{value:.2f}"


def duration(seconds: float) -> str:
    """3725.0 -> '1h 2m'; the two largest units, as seeding times are read."""
    minutes = int(seconds) // 60
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def markdown(source: str | None) -> Markup:
    return Markup(render_markdown(source or ""))  # sanitised by nh3 in render_markdown


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filesize=filesize, ago=ago, markdown=markdown, ratio=ratio,
                       duration=duration)
    env.globals.update(version=__version__, csrf_field=CSRF_FIELD)
    return env


ENV = _environment()


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = request.app.state.ctx
    # The admin page's settings: an in-memory copy, no query per page.
    config = sitecfg.cached(ctx)
    page = ENV.get_template(template).render(
        request=request,
        site_name=config.site_name,
        # The operator's banner (swarmdex.sitemode) and the mode, on every page.
        site_notice=config.notice,
        site_notice_level=config.notice_level,
        site_mode=config.mode,
        viewer=getattr(request.state, "viewer", None),
        csrf_token=csrf_token(request),
        **values,
    )
    return HTMLResponse(page, status_code=status_code)
