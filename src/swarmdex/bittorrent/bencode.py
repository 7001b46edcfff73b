"""Bencoding (BEP 3): a fast encoder and a strict decoder.

The decoder is the gate for untrusted uploads, so it is deliberately stricter than most
BitTorrent clients (libtorrent included): every input either decodes to exactly one canonical
value or raises :class:`BencodeError` naming what is wrong and at which byte.  Rejected even
though libtorrent accepts them:

* leading zeros (``i03e``, ``03:abc``) and negative zero (``i-0e``) -- they give one value two
  encodings, so a re-encoded torrent would no longer hash to the same info hash;
* duplicate dictionary keys -- readers disagree on which value wins (libtorrent's own
  ``torrent_info`` uses the first, its Python ``bdecode`` the last);
* trailing bytes after the value;
* integers outside the signed 64-bit range, and -2**63 -- clients store integers as int64 and
  libtorrent turns these into 0 without an error, so such a "file size" means nothing.

Dictionary keys out of order are accepted by default because real .torrent files contain them
and libtorrent reads them; pass ``require_sorted_keys=True`` to insist on canonical order (the
metainfo parser does this for the info dictionary, whose bytes are the info hash).

The decoder works with an explicit stack, so no input can raise ``RecursionError``; nesting is
capped by ``max_depth``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import itemgetter
from typing import Final

__all__ = [
    "MAX_INTEGER",
    "MIN_INTEGER",
    "BencodeError",
    "BytesLike",
    "decode",
    "decode_with_spans",
    "encode",
    "find_key_span",
]

# Signed 64-bit, without -2**63: libtorrent reads that one as 0.  Symmetric bounds also mean
# that negating a valid integer gives a valid integer.
MAX_INTEGER: Final = 2**63 - 1
MIN_INTEGER: Final = -MAX_INTEGER
DEFAULT_MAX_DEPTH: Final = 64

# Canonical forms only: no leading zeros, no "-0", at most 19 digits (int64 needs 19).
_INT_RE: Final = re.compile(rb"i(0|-?[1-9][0-9]{0,18})e")
_LEN_RE: Final = re.compile(rb"(0|[1-9][0-9]{0,18}):")
_MAX_INT_CHARS: Final = 20  # "-" and 19 digits

_I: Final = ord("i")
_L: Final = ord("l")
_D: Final = ord("d")
_E: Final = ord("e")
_ZERO: Final = ord("0")
_NINE: Final = ord("9")

Span = tuple[int, int]
BytesLike = bytes | bytearray | memoryview


class BencodeError(ValueError):
    """Malformed bencoded data, or a value that cannot be bencoded.

    ``reason`` says what is wrong; ``offset`` is the byte position in the input where the
    problem was found (``None`` for encoding errors).
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} at byte {offset}")


# --------------------------------------------------------------------------- encoding


def encode(value: object) -> bytes:
    """Bencode ``value``.

    Accepts int (not bool), bytes / bytearray / memoryview, str (as UTF-8), list / tuple and
    dict / Mapping with bytes or str keys.  Keys are emitted sorted by their raw bytes, as
    BEP 3 requires; a str and a bytes key that encode to the same bytes are an error.
    Integers must lie within ``MIN_INTEGER..MAX_INTEGER`` so that :func:`decode` (and every
    client) reads back every output.
    """
    out: list[bytes] = []
    try:
        _encode_into(value, out)
    except RecursionError:
        raise BencodeError("value is nested too deeply or contains itself") from None
    return b"".join(out)


def _encode_into(value: object, out: list[bytes]) -> None:
    # Exact type checks first: this runs on the tracker's announce path for small dicts.
    if type(value) is bytes:
        out.append(b"%d:" % len(value))
        out.append(value)
    elif type(value) is int:
        if not MIN_INTEGER <= value <= MAX_INTEGER:
            raise BencodeError(f"integer {value} is outside the signed 64-bit range")
        out.append(b"i%de" % value)
    elif type(value) is dict:
        _encode_dict(value, out)
    elif type(value) is list or type(value) is tuple:
        out.append(b"l")
        for item in value:
            _encode_into(item, out)
        out.append(b"e")
    elif type(value) is str:
        raw = _utf8(value)
        out.append(b"%d:" % len(raw))
        out.append(raw)
    else:
        _encode_uncommon(value, out)


def _encode_uncommon(value: object, out: list[bytes]) -> None:
    """Subclasses and the less common buffer types; kept off the fast path."""
    if isinstance(value, bool):
        # bool is an int subclass; encoding True as i1e would hide a caller's mistake.
        raise BencodeError("cannot bencode bool; use 0 or 1")
    if isinstance(value, bytes | bytearray | memoryview):
        _encode_into(bytes(value), out)
    elif isinstance(value, int):
        _encode_into(int(value), out)
    elif isinstance(value, str):
        _encode_into(str(value), out)
    elif isinstance(value, Mapping):
        _encode_dict(value, out)
    elif isinstance(value, list | tuple):
        _encode_into(list(value), out)
    else:
        raise BencodeError(f"cannot bencode {type(value).__name__}")


def _encode_dict(value: Mapping[object, object], out: list[bytes]) -> None:
    items = [(_key_bytes(key), item) for key, item in value.items()]
    items.sort(key=itemgetter(0))
    out.append(b"d")
    previous: bytes | None = None
    for key, item in items:
        if key == previous:
            raise BencodeError(f"duplicate dictionary key {key!r}")
        previous = key
        out.append(b"%d:" % len(key))
        out.append(key)
        _encode_into(item, out)
    out.append(b"e")


def _key_bytes(key: object) -> bytes:
    if type(key) is bytes:
        return key
    if isinstance(key, str):
        return _utf8(key)
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key)
    raise BencodeError(f"dictionary keys must be bytes or str, not {type(key).__name__}")


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise BencodeError(f"string is not encodable as UTF-8: {exc.reason}") from None


# --------------------------------------------------------------------------- decoding


class _DictFrame:
    """A dictionary being decoded: its items, the key awaiting a value, and ordering state."""

    __slots__ = ("items", "key", "last_key", "value_start")

    def __init__(self) -> None:
        self.items: dict[bytes, object] = {}
        self.key: bytes | None = None
        self.last_key: bytes | None = None
        self.value_start = 0


def decode(
    data: BytesLike,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    require_sorted_keys: bool = False,
) -> object:
    """Decode exactly one bencoded value that spans all of ``data``.

    Returns int, bytes (never str: BEP 3 strings are bytes and may not be text), list, or dict
    with bytes keys.  Dictionary keys may appear in any order unless ``require_sorted_keys``;
    duplicates are always rejected.  Any malformed input raises :class:`BencodeError`.
    """
    return _decode(data, max_depth, require_sorted_keys, None)


def decode_with_spans(
    data: BytesLike,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    require_sorted_keys: bool = False,
) -> tuple[dict[bytes, object], dict[bytes, Span]]:
    """Decode a bencoded dictionary and say where each of its values lies in ``data``.

    Returns ``(dictionary, spans)`` where ``data[start:end]`` for ``spans[key] == (start, end)``
    is the exact encoding of that key's value as it appears in the input.  This is how the
    info hash is computed (a hash of the info dictionary's bytes as uploaded, never of a
    re-encoding) and how a torrent's top level is rewritten without touching the info bytes.
    """
    if bytes(data[:1]) != b"d":
        raise BencodeError("expected a dictionary", 0)
    spans: dict[bytes, Span] = {}
    value = _decode(data, max_depth, require_sorted_keys, spans)
    assert isinstance(value, dict)
    return value, spans


def find_key_span(data: BytesLike, key: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Span:
    """Return the ``(start, end)`` byte span of ``key``'s value in a bencoded dictionary.

    The whole input is validated as by :func:`decode`.  Raises :class:`KeyError` when the
    dictionary is well formed but has no such key.
    """
    _, spans = decode_with_spans(data, max_depth=max_depth)
    return spans[key]


def _decode(
    data: BytesLike,
    max_depth: int,
    require_sorted_keys: bool,
    spans: dict[bytes, Span] | None,
) -> object:
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray / memoryview: slices must come out as bytes
    size = len(data)
    stack: list[list[object] | _DictFrame] = []
    pos = 0
    while True:
        if pos >= size:
            raise BencodeError("truncated: data ended inside a value", pos)
        byte = data[pos]
        top = stack[-1] if stack else None
        value: object
        if byte == _E and top is not None:
            stack.pop()
            if isinstance(top, list):
                value = top
            elif top.key is not None:
                raise BencodeError(f"dictionary key {top.key!r} has no value", pos)
            else:
                value = top.items
            pos += 1
        elif isinstance(top, _DictFrame) and top.key is None:
            pos = _read_key(data, pos, top, require_sorted_keys)
            continue
        elif byte in (_L, _D):
            if len(stack) >= max_depth:
                raise BencodeError(f"nesting deeper than {max_depth} levels", pos)
            stack.append([] if byte == _L else _DictFrame())
            pos += 1
            continue
        elif byte == _I:
            value, pos = _read_int(data, pos)
        elif _ZERO <= byte <= _NINE:
            value, pos = _read_string(data, pos)
        else:
            raise BencodeError(f"unexpected byte {_show(byte)}", pos)

        if not stack:
            if pos != size:
                raise BencodeError("trailing data after the value", pos)
            return value
        parent = stack[-1]
        if isinstance(parent, list):
            parent.append(value)
        else:
            assert parent.key is not None
            parent.items[parent.key] = value
            if spans is not None and len(stack) == 1:
                spans[parent.key] = (parent.value_start, pos)
            parent.key = None


def _read_key(data: bytes, pos: int, frame: _DictFrame, require_sorted_keys: bool) -> int:
    byte = data[pos]
    if not _ZERO <= byte <= _NINE:
        kinds = {_I: "an integer", _L: "a list", _D: "a dictionary"}
        if byte in kinds:
            raise BencodeError(f"dictionary key must be a string, not {kinds[byte]}", pos)
        raise BencodeError(f"unexpected byte {_show(byte)} where a dictionary key belongs", pos)
    key, end = _read_string(data, pos)
    if key in frame.items:
        raise BencodeError(f"duplicate dictionary key {key!r}", pos)
    if require_sorted_keys and frame.last_key is not None and key < frame.last_key:
        raise BencodeError(
            f"dictionary key {key!r} is out of order (after {frame.last_key!r})", pos
        )
    frame.key = frame.last_key = key
    frame.value_start = end
    return end


def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    match = _INT_RE.match(data, pos)
    if match is None:
        raise _int_error(data, pos)
    value = int(match.group(1))
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        raise BencodeError("integer is outside the signed 64-bit range", pos)
    return value, match.end()


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    match = _LEN_RE.match(data, pos)
    if match is None:
        raise _length_error(data, pos)
    start = match.end()
    end = start + int(match.group(1))
    if end > len(data):
        raise BencodeError(
            f"truncated: string of {end - start} bytes runs past the end of the data "
            f"({len(data)} bytes)",
            pos,
        )
    return data[start:end], end


def _int_error(data: bytes, pos: int) -> BencodeError:
    """Explain why the integer starting at ``pos`` (an ``i``) did not match the strict form."""
    # The scan stops past the longest valid integer: a megabyte of digits is refused
    # as too long at once instead of being walked byte by byte.
    limit = min(len(data), pos + 1 + _MAX_INT_CHARS + 1)
    end = pos + 1
    while end < limit and (_ZERO <= data[end] <= _NINE or data[end] == ord("-")):
        end += 1
    if end == len(data):
        return BencodeError("truncated: data ended inside an integer", end)
    if end == limit:
        return BencodeError("integer is outside the signed 64-bit range", pos)
    if data[end] != _E:
        return BencodeError(f"unexpected byte {_show(data[end])} in an integer", end)
    body = data[pos + 1 : end]
    digits = body.removeprefix(b"-")
    if not body:
        return BencodeError("empty integer", pos)
    if not digits or b"-" in digits:
        return BencodeError("misplaced '-' in an integer", pos)
    if body == b"-0":
        return BencodeError("negative zero is not allowed", pos)
    if digits.startswith(b"0"):
        return BencodeError("integer has a leading zero", pos)
    return BencodeError("integer is outside the signed 64-bit range", pos)


def _length_error(data: bytes, pos: int) -> BencodeError:
    """Explain why the string length starting at ``pos`` (a digit) was rejected."""
    limit = min(len(data), pos + _MAX_INT_CHARS + 1)  # as in _int_error
    end = pos
    while end < limit and _ZERO <= data[end] <= _NINE:
        end += 1
    if end == len(data):
        return BencodeError("truncated: data ended inside a string length", end)
    if end == limit:
        return BencodeError("string length is too large", pos)
    if data[end] != ord(":"):
        return BencodeError(f"unexpected byte {_show(data[end])} in a string length", end)
    if data[pos] == _ZERO:
        return BencodeError("string length has a leading zero", pos)
    return BencodeError("string length is too large", pos)


def _show(byte: int) -> str:
    return f"{chr(byte)!r}" if 0x20 < byte < 0x7F else f"0x{byte:02x}"
