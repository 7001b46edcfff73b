"""Row ids in paths have one spelling: canonical decimal within the database's 64-bit range.
Every other spelling, and every number the database cannot hold, names nothing: a 404 (the
JSON API may say 422), never a 500, on every route that takes an id, including routes added
later."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

from swarmdex.db.models import Role
from swarmdex.web.ids import ID_MAX, parse_id

from .helpers import async_test, post_form, running_site
from .routes import Route, app_routes

NOT_IDS: Final = (str(2**31), str(2**63), str(2**64), "%2B1", "1.0", "%201", "01")
_ID_PARAM: Final = re.compile(r"\{([a-z_]*id)\}")


def id_routes(routes: list[Route]) -> list[Route]:
    return [route for route in routes if _ID_PARAM.search(route.path)]


@async_test
async def test_every_route_id_refuses_other_spellings_and_huge_numbers(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        token = await site.api_token("root")
        routes = id_routes(app_routes(site))
        # Comments, news, moderation, bans, takedowns, notices, donations, tokens at least.
        assert len(routes) >= 30
        for route in routes:
            api = route.path.startswith("/api/")
            for value in (*NOT_IDS, str(ID_MAX)):
                path = _ID_PARAM.sub(value, route.path)
                for method in sorted(route.methods):
                    if api:
                        answer = await admin.request(method, path, headers={
                            "Authorization": f"Bearer {token}"})
                    elif method == "POST":
                        answer = await post_form(admin, path)
                    else:
                        answer = await admin.request(method, path)
                    if value == str(ID_MAX):  # an id, of nothing: whatever the page says, no 500
                        assert answer.status_code < 500, (method, route.path)
                    else:
                        allowed = {404, 422} if api else {404}
                        assert answer.status_code in allowed, (method, route.path, value)


@pytest.mark.parametrize("text", ["1", "42", "2147483647"])
def test_canonical_ids_parse(text: str) -> None:
    assert parse_id(text) == int(text)


@async_test
async def test_the_receipt_of_a_huge_notice_number_is_not_found(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        answer = await site.client().get("/notice/99999999999999999999/received")
        assert answer.status_code == 404
