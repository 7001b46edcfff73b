"""The OpenAPI document says exactly what the API accepts: every value its formats describe
is accepted, and OPTIONS (and 405 answers) name every method a path has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import async_test, running_site

SCHEMA: Final = "/api/v1/openapi.json"
HTTP_METHODS: Final = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@async_test
async def test_options_and_405_name_every_method_of_every_path(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        client = site.client()
        document = (await client.get(SCHEMA)).json()
        assert {m.upper() for m in document["paths"]["/api/v1/torrents"]} == {"GET", "POST"}
        for path, operations in document["paths"].items():
            methods = {method.upper() for method in operations} | {"OPTIONS"}
            url = _concrete(path)
            answer = await client.options(url)
            assert answer.status_code == 204, (path, answer.status_code)
            assert set(answer.headers["allow"].split(", ")) == methods, path
            unused = sorted(HTTP_METHODS - methods)[0]
            refused = await client.request(unused, url)
            assert refused.status_code == 405, (path, unused)
            assert set(refused.headers["allow"].split(", ")) == methods, (path, unused)


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    return found


@async_test
async def test_every_size_the_schema_describes_is_accepted(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        client = site.client()
        document = (await client.get(SCHEMA)).json()
        patterns = {}
        for name in ("min_size", "max_size"):
            schema = _parameter(document, "/api/v1/torrents", name)["schema"]
            (string,) = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
            patterns[name] = string["pattern"]
        answers: list[tuple[str, str, int]] = []

        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(name=st.sampled_from(sorted(patterns)), data=st.data())
        def probe(name: str, data: st.DataObject) -> None:
            value = data.draw(st.from_regex(patterns[name], fullmatch=True))
            answers.append((name, value, 0))

        probe()
        examples = ["", "0", "700M", "4.5G", "1,5 GiB", "123456", "2t", "9" * 15 + ".999999P"]
        answers += [(name, value, 0) for name in patterns for value in examples]
        for name, value, _ in answers:
            answer = await client.get(f"/api/v1/torrents?{name}={quote(value)}")
            assert answer.status_code == 200, (name, value, answer.text)
        # What it does not describe is refused plainly, not misread.
        for value in ("x", "-1", "1e3", "1.2.3", "12 parsecs", "٣M"):
            assert re.fullmatch(patterns["min_size"], value) is None, value
            answer = await client.get(f"/api/v1/torrents?min_size={quote(value)}")
            assert answer.status_code == 422, (value, answer.text)


@async_test
async def test_the_upload_file_is_described_as_binary(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        document = (await site.client().get(SCHEMA)).json()
        body = document["paths"]["/api/v1/torrents"]["post"]["requestBody"]["content"]
        form = body["multipart/form-data"]["schema"]
        assert form["properties"]["file"] == {
            "type": "string", "format": "binary", "description": "The .torrent file."}
        assert "file" in form["required"]
