"""Reading an upload under the size limit, from a real multipart body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.datastructures import UploadFile
from starlette.requests import Request

from swarmdex.torrents.fields import UploadError, UploadTooLarge
from swarmdex.torrents.forms import FORM_ALLOWANCE, UploadForm, bounded_form, read_upload

from .support import async_test

LIMIT = 10_000
CHUNK = 4096


def _multipart(
    content: bytes | None, /, declare_length: bool = True, **fields: str
) -> tuple[dict[str, Any], bytes]:
    """Scope and body of a multipart POST, as a browser would send it."""
    files = {"file": ("x.torrent", content, "application/x-bittorrent")} if content is not None else None
    built = httpx.Request("POST", "http://testserver/upload", data=fields, files=files)
    body = built.read()
    headers = [(k.lower().encode(), v.encode()) for k, v in built.headers.items()]
    if not declare_length:
        headers = [(k, v) for k, v in headers if k != b"content-length"]
    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": headers}
    return scope, body


class Body:
    """An ASGI receive that hands out the body in chunks and counts what it gave."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = 0

    async def __call__(self) -> dict[str, Any]:
        chunk = self.body[self.sent : self.sent + CHUNK]
        self.sent += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.sent < len(self.body)}


async def _read(content: bytes | None, /, *, declare_length: bool = True, **fields: str) -> UploadForm:
    scope, body = _multipart(content, declare_length, **fields)
    async with bounded_form(Request(scope, Body(body)), LIMIT) as request:
        return await read_upload(await request.form(), LIMIT)


@async_test
async def test_fields_are_read() -> None:
    form = await _read(
        b"d4:infode", category="linux", title="T", description="D", tags="a, b", anonymous="on"
    )
    assert form == UploadForm(b"d4:infode", "linux", "T", "D", ["a", " b"], True)


@async_test
async def test_missing_fields_have_defaults() -> None:
    assert await _read(b"x") == UploadForm(b"x", "", None, "", [], False)


@async_test
async def test_no_file_is_an_error() -> None:
    with pytest.raises(UploadError, match=r"Choose a \.torrent file"):
        await _read(None, category="linux", file="not a file part")


@async_test
async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    scope, body = _multipart(b"x" * (LIMIT + FORM_ALLOWANCE))
    receive = Body(body)
    with pytest.raises(UploadTooLarge, match="at most 10,000 bytes"):
        async with bounded_form(Request(scope, receive), LIMIT):
            pass
    assert receive.sent == 0


@async_test
async def test_an_undeclared_length_is_cut_off_once_over_the_limit() -> None:
    scope, body = _multipart(b"x" * (10 * (LIMIT + FORM_ALLOWANCE)), declare_length=False)
    receive = Body(body)
    with pytest.raises(UploadTooLarge):
        async with bounded_form(Request(scope, receive), LIMIT):
            pass
    assert receive.sent <= LIMIT + FORM_ALLOWANCE + CHUNK


@async_test
async def test_a_file_over_the_limit_within_the_allowance_is_refused() -> None:
    with pytest.raises(UploadTooLarge, match="at most 10,000 bytes"):
        await _read(b"x" * (LIMIT + 1))
    assert (await _read(b"x" * LIMIT)).data == b"x" * LIMIT


@async_test
async def test_spooled_files_are_closed_afterwards() -> None:
    scope, body = _multipart(b"d4:infode")
    async with bounded_form(Request(scope, Body(body)), LIMIT) as request:
        upload = (await request.form())["file"]
        assert isinstance(upload, UploadFile) and not upload.file.closed
    assert upload.file.closed
