"""The payment provider's webhook, sans-IO: check a signed notification and read it into a
`Payment`, as pure functions of the bytes received, the secret and the time.

The sender signs `TIMESTAMP.BODY` with HMAC-SHA256 under the shared secret and sends

    X-Swarmdex-Signature: t=1736000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

(several `v1=` values may be given, e.g. while the secret is being changed; one matching is
enough). Signing the timestamp with the body lets the receiver refuse a captured request
replayed later (`TOLERANCE`); the payment reference makes a repeat within that window
harmless (the ledger keeps one entry per reference).

The body is a JSON object:

    {"reference": "ch_123", "amount": "12.50", "currency": "EUR",
     "campaign": 3,                      optional: else the campaign running at the time
     "type": "donation",                 or "refund", with "refund_of": "ch_122" and a
                                         negative amount like "-5.00"
     "received_at": "2025-01-05T10:00:00Z", optional: else now; from 1970 to 8999
     "donor_name": "Ada", "show_name": true, "message": "Keep seeding!",   optional
     "method": "card"}                   optional: else "webhook"

Amounts are strings: a JSON number like 12.5 is refused, since most JSON libraries have
already turned it into a binary float before anyone can tell what was meant.

Errors say who is at fault: `SignatureError` (not from the provider, or too old: the text is
safe to return but deliberately vague) and `PayloadError` (the provider sent something we
cannot book; the text says exactly what).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from swarmdex.db.models import ROW_ID_MAX
from swarmdex.donations.dates import OutOfRange, check_time
from swarmdex.donations.money import MoneyError, check_currency, parse_amount

__all__ = [
    "HEADER",
    "MAX_BODY",
    "TOLERANCE",
    "MalformedBody",
    "PayloadError",
    "Payment",
    "SignatureError",
    "parse_payment",
    "sign",
    "verify",
]

HEADER: Final = "X-Swarmdex-Signature"
TOLERANCE: Final = 300  # seconds a signed request stays valid, either side of our clock
MAX_BODY: Final = 64 * 1024
_MAX_HEADER: Final = 1024
_MAX_SIGNATURES: Final = 4
# The longest integer any field may hold, at 19 digits (a campaign number is at most
# ROW_ID_MAX): longer digit strings are refused while parsing, before Python's int conversion limit raises on them.
_MAX_INT_DIGITS: Final = 19


class SignatureError(ValueError):
    """The request is not a fresh one signed with our secret."""


class PayloadError(ValueError):
    """A correctly signed body that cannot be booked; the message says why."""


class MalformedBody(PayloadError):
    """Not even a JSON object of acceptable size: nothing in it could be read."""


def sign(body: bytes, secret: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (what the provider does; tests too)."""
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


def _digest(body: bytes, secret: bytes, timestamp: int) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(header: str | None, body: bytes, secret: bytes, *, now: float) -> None:
    """Return if `header` signs `body` with `secret` at a time within `TOLERANCE` of `now`;
    raise SignatureError otherwise. Digests are compared in constant time."""
    if not secret:
        raise SignatureError("Webhook signatures cannot be checked without a secret.")
    if not header or len(header) > _MAX_HEADER:
        raise SignatureError(f"The {HEADER} header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > _MAX_SIGNATURES:
        raise SignatureError(f"The {HEADER} header is malformed: expected t=TIMESTAMP,v1=HEX.")
    if abs(now - timestamp) > TOLERANCE:
        # Checked before the digest only to say why; the digest is still required below.
        raise SignatureError("The signature's timestamp is too old or in the future.")
    expected = _digest(body, secret, timestamp).encode()
    # Every candidate is compared, so the time taken does not tell which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("The signature does not match.")


@dataclass(frozen=True, slots=True)
class Payment:
    """One notification, checked: ready for `services.record_payment`."""

    reference: str
    kind: Literal["donation", "refund"]
    amount: Decimal  # negative for a refund
    currency: str
    campaign_id: int | None
    refund_of: str | None
    received_at: datetime | None
    donor_name: str | None
    show_name: bool
    message: str
    method: str


_FIELDS: Final = frozenset({
    "reference", "type", "amount", "currency", "campaign", "refund_of", "received_at",
    "donor_name", "show_name", "message", "method",
})


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "amount" keys would let the signer and a reader disagree on what was paid.
    result: dict[str, Any] = {}
    for key, value in pairs:
        _unicode(key)
        if isinstance(value, str):
            _unicode(value)
        if key in result:
            raise PayloadError(f"The field “{key}” appears twice.")
        result[key] = value
    return result


def _unicode(text: str) -> None:
    # JSON can escape half of a UTF-16 pair ("\ud800"): such a string is no text at all,
    # cannot be stored or even quoted back in an answer.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("The body has a string that is not valid Unicode "
                           "(an unpaired surrogate escape).") from None


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise PayloadError(f"A number in the body has more than {_MAX_INT_DIGITS} digits.")
    return int(digits)


def _no_constants(name: str) -> Any:
    raise PayloadError(f"{name} is not a number JSON allows.")


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise PayloadError(f"The field “{key}” is required.")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"The field “{key}” must be a string.")
    return value


def parse_payment(body: bytes, *, cap: Decimal) -> Payment:
    """The notification in `body`, or PayloadError saying what is wrong with it.

    Only the shape and the amount are checked here (JSON, types, known currency, decimals,
    sign, `cap`); what needs the database (the campaign, the refunded entry) and the text
    rules for names and messages are the services' to check.
    """
    if len(body) > MAX_BODY:
        raise MalformedBody(f"The body is larger than {MAX_BODY // 1024} KiB.")
    try:
        data = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_float=Decimal,
            parse_int=_integer,
            parse_constant=_no_constants,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise MalformedBody("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise MalformedBody("The body must be a JSON object.")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise PayloadError(f"Unknown field(s): {', '.join(unknown)}.")

    kind = data.get("type", "donation")
    if kind not in ("donation", "refund"):
        raise PayloadError("The type is “donation” or “refund”.")
    reference = _text(data, "reference", required=True)
    currency = _text(data, "currency", required=True)
    assert reference is not None and currency is not None
    raw_amount = data.get("amount")
    if isinstance(raw_amount, (int, float, Decimal)) and not isinstance(raw_amount, bool):
        raise PayloadError('The amount must be a string like "12.50", not a JSON number.')
    amount_text = _text(data, "amount", required=True)
    assert amount_text is not None
    try:
        check_currency(currency)
        amount = parse_amount(amount_text, currency, negative=kind == "refund", cap=cap)
    except MoneyError as exc:
        raise PayloadError(str(exc)) from None

    campaign = data.get("campaign")
    if campaign is not None and (
        not isinstance(campaign, int) or isinstance(campaign, bool) or not 1 <= campaign <= ROW_ID_MAX
    ):
        raise PayloadError("The campaign is a campaign's number.")
    refund_of = _text(data, "refund_of")
    if (kind == "refund") != (refund_of is not None):
        raise PayloadError("A refund names the payment it refunds in “refund_of”; "
                           "a donation does not.")
    show_name = data.get("show_name", False)
    if not isinstance(show_name, bool):
        raise PayloadError("The field “show_name” must be true or false.")
    return Payment(
        reference=reference,
        kind=kind,
        amount=amount,
        currency=currency,
        campaign_id=campaign,
        refund_of=refund_of,
        received_at=_when(_text(data, "received_at")),
        donor_name=_text(data, "donor_name"),
        show_name=show_name,
        message=_text(data, "message") or "",
        method=_text(data, "method") or "webhook",
    )


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError("received_at must be an ISO 8601 time, like 2025-01-05T10:00:00Z.") from None
    if when.tzinfo is None:
        raise PayloadError("received_at must say its time zone (e.g. end with Z).")
    try:
        # Checked before moving to UTC: near year 1 or 9999 that move itself overflows.
        check_time(when, "received_at time")
    except OutOfRange as exc:
        raise PayloadError(str(exc)) from None
    return when.astimezone(UTC)
