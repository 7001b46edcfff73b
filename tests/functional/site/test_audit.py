"""The audit log page: admins read it, nobody else does, and staff actions show up in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.db.models import Role
from tests.functional.site.helpers import async_test, post_form, running_site


@pytest.mark.parametrize(("role", "status"), [
    (None, 303), (Role.USER, 403), (Role.TRUSTED, 403), (Role.MODERATOR, 403), (Role.ADMIN, 200),
])
@async_test
async def test_only_admins_read_the_log(tmp_path: Path, role: Role | None, status: int) -> None:
    async with running_site(tmp_path) as site:
        client = site.client() if role is None else await site.logged_in("someone", role=role)
        answer = await client.get("/admin/audit")
        assert answer.status_code == status
        if status == 303:
            assert answer.headers["location"].startswith("/login")


@async_test
async def test_admin_actions_are_listed_and_filtered(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        added = await post_form(admin, "/admin/categories", slug="mods", name="<b>Mods</b>")
        assert added.status_code == 303
        saved = await post_form(admin, "/admin/settings", site_name="Open Mirror",
                                registration="closed", upload_max="10 MiB")
        assert saved.status_code == 303

        page = (await admin.get("/admin/audit")).text
        assert "category.add" in page and "settings.change" in page
        assert "&lt;b&gt;Mods&lt;/b&gt;" in page and "<b>Mods</b>" not in page  # escaped
        filtered = (await admin.get("/admin/audit", params={"action": "settings."})).text
        assert "settings.change" in filtered and "category.add" not in filtered
        assert "Open Mirror" in filtered and "registration_open" in filtered
        nothing = (await admin.get("/admin/audit", params={"actor": "nobody"})).text
        assert "No entries match these filters" in nothing
