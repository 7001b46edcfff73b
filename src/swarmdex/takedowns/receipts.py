"""The receipt of a notice: an address only its sender knows.

Notice numbers are sequential, and a pending notice names torrents staff have not decided
on yet, so the receipt page is not found by number alone: its address carries a key, an
HMAC of the number under the site's secret (`DATA_DIR/secret.key`), given to the sender
when the notice is filed. Nothing is stored; a new secret makes old receipt addresses 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

__all__ = ["KEY_CHARS", "receipt_key", "receipt_path", "valid_receipt_key"]

_CONTEXT: Final = b"swarmdex notice receipt\x00"
_KEY_BYTES: Final = 16  # 128 bits: not to be guessed, short enough for a link
KEY_CHARS: Final = 22  # base64url of 16 bytes, unpadded


def receipt_key(secret: bytes, notice_id: int) -> str:
    mac = hmac.new(secret, _CONTEXT + str(notice_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:_KEY_BYTES]).rstrip(b"=").decode()


def valid_receipt_key(secret: bytes, notice_id: int, key: str) -> bool:
    return hmac.compare_digest(receipt_key(secret, notice_id).encode(), key.encode("utf-8", "replace"))


def receipt_path(secret: bytes, notice_id: int) -> str:
    return f"/notice/{notice_id}/received/{receipt_key(secret, notice_id)}"
