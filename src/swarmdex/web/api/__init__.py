"""The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json.

Errors are JSON too: `{"detail": ...}` (the app's error handlers see to that for every
path under /api/). `error_responses` documents them on an operation.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

__all__ = ["PREFIX", "ErrorOut", "error_responses"]

PREFIX: Final = "/api/v1"

_MEANINGS: Final = {
    400: "Malformed request",
    401: "Missing or invalid API token (send `Authorization: Bearer <token>`)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with what is already on the site",
    413: "Request too large",
    422: "Invalid input",
    451: "Removed following a legal notice",
}


class ErrorOut(BaseModel):
    """An error: `detail` says what went wrong (a sentence, or a list of field errors)."""

    detail: Any


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorOut, "description": _MEANINGS[status]} for status in statuses}
