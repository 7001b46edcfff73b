"""The webhook's signature check and payload reading, without any I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdex.donations.webhook import (
    MAX_BODY,
    TOLERANCE,
    MalformedBody,
    PayloadError,
    SignatureError,
    parse_payment,
    sign,
    verify,
)

SECRET: Final = b"whsec_test"
NOW: Final = 1_736_000_000
CAP: Final = Decimal("100000")
BODY: Final = b'{"reference": "ch_1", "amount": "12.50", "currency": "EUR"}'


def test_a_signed_body_is_accepted() -> None:
    verify(sign(BODY, SECRET, NOW), BODY, SECRET, now=NOW)
    verify(sign(BODY, SECRET, NOW - TOLERANCE), BODY, SECRET, now=NOW)  # the edge is inside
    verify(sign(BODY, SECRET, NOW + TOLERANCE), BODY, SECRET, now=NOW)


def test_one_matching_signature_of_several_is_enough() -> None:
    good = sign(BODY, SECRET, NOW).split(",")[1]
    verify(f"t={NOW},v1={'0' * 64},{good}", BODY, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        (None, BODY, "missing"),
        ("", BODY, "missing"),
        ("x" * 2000, BODY, "missing"),
        (f"v1={'0' * 64}", BODY, "malformed"),
        (f"t={NOW}", BODY, "malformed"),
        (f"t=soon,v1={'0' * 64}", BODY, "malformed"),
        (f"t=-{NOW},v1={'0' * 64}", BODY, "malformed"),
        (f"t={NOW},v1={'0' * 64}", BODY, "does not match"),
        (sign(BODY, SECRET, NOW), BODY.replace(b"12.50", b"92.50"), "does not match"),  # tampered
        (sign(BODY, b"another secret", NOW), BODY, "does not match"),  # wrong secret
        (sign(BODY, SECRET, NOW).upper(), BODY, "malformed"),  # T= is not t=
        (sign(BODY, SECRET, NOW - TOLERANCE - 1), BODY, "too old or in the future"),
        (sign(BODY, SECRET, NOW + TOLERANCE + 1), BODY, "too old or in the future"),
        (sign(BODY, SECRET, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), BODY, "does not match"),
        (f"t={NOW}," + ",".join(f"v1={i}" for i in range(5)), BODY, "malformed"),
        (f"t={NOW},v1=é", BODY, "does not match"),
    ],
)
def test_anything_else_is_refused(header: str | None, body: bytes, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(header, body, SECRET, now=NOW)


def test_no_secret_checks_nothing() -> None:
    with pytest.raises(SignatureError):
        verify(sign(BODY, b"", NOW), BODY, b"", now=NOW)


def payload(**fields: Any) -> bytes:
    base: dict[str, Any] = {"reference": "ch_1", "amount": "12.50", "currency": "EUR"}
    return json.dumps({k: v for k, v in (base | fields).items() if v is not None}).encode()


def test_a_donation_is_read() -> None:
    payment = parse_payment(
        payload(campaign=3, donor_name="Ada", show_name=True, message="Thanks!", method="card",
                received_at="2025-01-05T10:00:00Z"),
        cap=CAP,
    )
    assert payment.amount == Decimal("12.50") and payment.currency == "EUR"
    assert (payment.kind, payment.reference, payment.campaign_id) == ("donation", "ch_1", 3)
    assert payment.received_at == datetime(2025, 1, 5, 10, tzinfo=UTC)
    assert (payment.donor_name, payment.show_name, payment.message, payment.method) == (
        "Ada", True, "Thanks!", "card")
    minimal = parse_payment(payload(), cap=CAP)
    assert (minimal.method, minimal.show_name, minimal.message, minimal.received_at) == (
        "webhook", False, "", None)


def test_a_refund_is_negative_and_names_what_it_refunds() -> None:
    refund = parse_payment(payload(type="refund", amount="-5.00", refund_of="ch_0"), cap=CAP)
    assert (refund.kind, refund.amount, refund.refund_of) == ("refund", Decimal("-5.00"), "ch_0")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (payload(amount=12.5), "must be a string"),
        (payload(amount=12), "must be a string"),
        (b'{"reference": "ch_1", "amount": 1e400, "currency": "EUR"}', "must be a string"),
        (b'{"reference": "ch_1", "amount": NaN, "currency": "EUR"}', "NaN is not a number"),
        (payload(amount="12.505"), "at most 2 decimals"),
        (payload(amount="1000.5", currency="JPY"), "JPY amounts have no decimals"),
        (payload(amount="-12.50"), "cannot be negative"),
        (payload(amount="100000.01"), "more than the largest amount"),
        (payload(amount="99999999999999"), "more than the largest amount"),
        (payload(amount=""), "digits with a decimal point"),
        (payload(amount=None), "“amount” is required"),
        (payload(currency="EURO"), "not an ISO 4217 currency code"),
        (payload(currency="eur"), "not an ISO 4217 currency code"),
        (payload(currency=None), "“currency” is required"),
        (payload(reference=None), "“reference” is required"),
        (payload(reference=7), "“reference” must be a string"),
        (payload(type="refund", amount="-5.00"), "names the payment it refunds"),
        (payload(refund_of="ch_0"), "names the payment it refunds"),
        (payload(type="refund", amount="5.00", refund_of="ch_0"), "A refund is a negative amount"),
        (payload(type="gift"), "“donation” or “refund”"),
        (payload(campaign="3"), "campaign's number"),
        (payload(campaign=True), "campaign's number"),
        (payload(campaign=0), "campaign's number"),
        (payload(campaign=2**63), "campaign's number"),
        (payload(show_name="yes"), "true or false"),
        (payload(received_at="yesterday"), "ISO 8601"),
        (payload(received_at="2025-01-05T10:00:00"), "time zone"),
        # At and past the ends of what a datetime holds, in every direction a zone moves it.
        (payload(received_at="9999-12-31T23:59:59.999999-23:59"), "between 1970-01-01"),
        (payload(received_at="9999-12-31T23:59:59Z"), "between 1970-01-01"),
        (payload(received_at="0001-01-01T00:00:00+23:59"), "between 1970-01-01"),
        (payload(received_at="0001-01-01T00:00:00Z"), "between 1970-01-01"),
        (payload(received_at="1969-12-31T23:59:59Z"), "between 1970-01-01"),
        (payload(received_at="9000-01-01T00:00:00Z"), "between 1970-01-01"),
        (payload(received_at="10000-01-01T00:00:00Z"), "ISO 8601"),
        (payload(received_at=""), "ISO 8601"),
        (b'{"reference": "a", "amount": "1", "currency": "EUR", "campaign": 1' + b"0" * 5000
         + b"}", "more than 19 digits"),
        (b'{"reference": "a", "amount": ' + b"9" * 5000 + b', "currency": "EUR"}',
         "more than 19 digits"),
        (b'{"reference": "a\\ud800", "amount": "1", "currency": "EUR"}', "not valid Unicode"),
        (b'{"reference": "a", "amount": "1", "currency": "EUR", "\\udfff": 1}',
         "not valid Unicode"),
        (b'{"reference": "a", "amount": "1", "currency": "EUR", "x": {"\\ud800": 1}}',
         "not valid Unicode"),
        (payload(extra=1), "Unknown field"),
        (b'{"reference": "a", "reference": "b", "amount": "1", "currency": "EUR"}', "appears twice"),
        (b'{"reference": "a", "amount": "1", "amount": "1000", "currency": "EUR"}', "appears twice"),
    ],
)
def test_bad_payloads_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message) as caught:
        parse_payment(body, cap=CAP)
    assert not isinstance(caught.value, MalformedBody)


def test_times_at_the_ends_of_the_span_are_kept() -> None:
    for text, expected in [
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1970-01-01T01:00:00+01:00", datetime(1970, 1, 1, tzinfo=UTC)),
        ("8999-12-31T23:59:59.999999Z", datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2025-01-01T00:00:00+23:59", datetime(2024, 12, 31, 0, 1, tzinfo=UTC)),
    ]:
        assert parse_payment(payload(received_at=text), cap=CAP).received_at == expected


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"[]", b'"x"', b"\xff\xfe", b"[" * 100_000, b" " * (MAX_BODY + 1)],
)
def test_malformed_bodies_are_told_apart(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_payment(body, cap=CAP)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_TIMES = st.datetimes(timezones=st.timezones() | st.just(UTC) | st.none()).map(
    lambda when: when.isoformat()) | st.sampled_from(
    ["9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+23:59", "2025-13-01T00:00:00Z"])
_AMOUNTS = st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,6})?", fullmatch=True) | st.text(max_size=30)


_FIELD_VALUES: Final = {
    "reference": _JSON_VALUES, "amount": _AMOUNTS, "currency": _JSON_VALUES,
    "campaign": st.integers() | _JSON_VALUES, "received_at": _TIMES | _JSON_VALUES,
    "donor_name": _JSON_VALUES, "show_name": _JSON_VALUES, "message": _JSON_VALUES,
    "method": _JSON_VALUES, "type": _JSON_VALUES, "refund_of": _JSON_VALUES,
}


@settings(max_examples=400, deadline=None)
@given(
    refund=st.booleans(),
    changes=st.dictionaries(st.sampled_from(sorted(_FIELD_VALUES)), st.none(), max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({key: _FIELD_VALUES[key] for key in keys})),
)
def test_any_body_is_a_payment_or_says_what_is_wrong(refund: bool, changes: dict[str, Any]) -> None:
    # A bookable notification with up to three fields changed to anything JSON can say.
    valid: dict[str, Any] = (
        {"type": "refund", "amount": "-5.00", "refund_of": "ch_0"} if refund
        else {"amount": "12.50", "campaign": 3, "received_at": "2025-01-05T10:00:00Z"})
    body = json.dumps({"reference": "ch_1", "currency": "EUR", **valid, **changes}).encode()
    try:
        payment = parse_payment(body, cap=Decimal("1e16"))
    except PayloadError as refused:
        assert str(refused)
        return
    assert payment.received_at is None or payment.received_at.tzinfo is UTC
