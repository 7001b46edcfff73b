"""The one type of every row id in a route's path (`/comments/{comment_id}/edit`...).

An id is written one way only: canonical decimal, `[1-9][0-9]*`, within the range of the id
columns on every database: PostgreSQL's `integer`, signed 32-bit (SQLite's hold 64 bits, but
no id there goes past 2**31 either before a site would have other worries). Anything else
(`+1`, `1.0`, ` 1`, `01`, 2**31) names nothing on the site, so it is a 404 before any handler or query
runs: never a 500 from a number the database cannot hold, and never a second spelling of an
address that rules keyed on the canonical one (site modes, caches, logs) would not know.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import HTTPException, Path
from pydantic import BeforeValidator

from swarmdex.db.models import ROW_ID_MAX

__all__ = ["ID_MAX", "RowId", "parse_id"]

ID_MAX: Final = ROW_ID_MAX
_CANONICAL: Final = re.compile(r"[1-9][0-9]{0,9}")


def parse_id(value: object) -> int:
    """`value` (a path segment) as a row id; HTTPException 404 if it is not one.

    Raised as a 404 rather than a validation error: the address is wrong, not a form."""
    if isinstance(value, str) and _CANONICAL.fullmatch(value) and int(value) <= ID_MAX:
        return int(value)
    raise HTTPException(404)


RowId = Annotated[int, BeforeValidator(parse_id), Path(ge=1, le=ID_MAX)]
