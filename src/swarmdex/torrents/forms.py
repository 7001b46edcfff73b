"""Reading an upload from a multipart request without reading more than the limit.

FastAPI parses declared form fields before any dependency runs, and Starlette spools an
uploaded file to disk however large it is. So upload routes declare no form fields and
read the body here instead: refused at once on a Content-Length over the limit, and cut
off mid-stream when a body without one (chunked) grows past it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message, Receive

from swarmdex.torrents.fields import UploadError, UploadTooLarge, split_tags

__all__ = ["FORM_ALLOWANCE", "UploadForm", "bounded_form", "read_upload"]

# Room for the fields next to the file (a description may be 50,000 characters of UTF-8)
# and the multipart framing.
FORM_ALLOWANCE: Final = 256 * 1024
_CHUNK: Final = 64 * 1024
_TRUE: Final = frozenset({"1", "on", "true", "yes"})


@dataclass(slots=True)
class UploadForm:
    """The fields of an upload, as sent (checked by `services.upload`)."""

    data: bytes
    category: str
    title: str | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    anonymous: bool = False


def too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the limit: .torrent files may be at most {max_bytes:,} bytes."
    )


@asynccontextmanager
async def bounded_form(request: Request, max_file_bytes: int) -> AsyncIterator[Request]:
    """`request` re-read through a byte budget, its form parsed and cached.

    Yields a Request whose `await form()` returns the parsed form (so `require_csrf`
    works on it); the spooled files are closed on exit. Raises `UploadTooLarge` when the
    body is over `max_file_bytes + FORM_ALLOWANCE`.
    """
    budget = max_file_bytes + FORM_ALLOWANCE
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > budget:
        raise too_large(max_file_bytes)
    bounded = Request(request.scope, _limited(request.receive, budget, max_file_bytes))
    async with bounded.form() as _:
        yield bounded


def _limited(receive: Receive, budget: int, max_file_bytes: int) -> Receive:
    seen = 0

    async def receive_within_budget() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > budget:
                # Starlette's parser closes the files it spooled so far and re-raises.
                raise too_large(max_file_bytes)
        return message

    return receive_within_budget


async def read_upload(form: FormData, max_file_bytes: int) -> UploadForm:
    """The upload's fields; the file read in chunks and refused past `max_file_bytes`."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise UploadError("Choose a .torrent file to upload.")
    return UploadForm(
        data=await _read_file(upload, max_file_bytes),
        category=_text(form, "category") or "",
        title=_text(form, "title"),
        description=_text(form, "description") or "",
        tags=split_tags(_text(form, "tags")),
        anonymous=(_text(form, "anonymous") or "").strip().lower() in _TRUE,
    )


async def _read_file(upload: UploadFile, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _text(form: FormData, name: str) -> str | None:
    """A text field, or None when absent (a file sent under a text field's name counts
    as absent rather than being read as text)."""
    value = form.get(name)
    return value if isinstance(value, str) else None
