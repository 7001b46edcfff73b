"""The payment provider's webhook: POST /api/v1/donations/webhook.

The request is checked in this order, and refused at the first failure with nothing
written: the webhook is configured (`donations_webhook_secret`; 404 otherwise, as if it did
not exist), the body is small enough (413), the signature is ours and fresh (401), the body
is a JSON object (400), its fields can be booked (422). A new entry answers 201; a payment
reference already in the ledger answers 200 with the entry it made then, unchanged.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from swarmdex.db.engine import transaction
from swarmdex.donations import services
from swarmdex.donations.models import Donation
from swarmdex.donations.money import plain_amount
from swarmdex.donations.webhook import (
    HEADER,
    MAX_BODY,
    MalformedBody,
    PayloadError,
    SignatureError,
    parse_payment,
    verify,
)
from swarmdex.web.api import PREFIX, error_responses
from swarmdex.web.context import Ctx

router = APIRouter(prefix=PREFIX, tags=["donations"])

_TOO_LARGE: Final = f"The body is larger than {MAX_BODY // 1024} KiB."


class EntryOut(BaseModel):
    """The ledger entry a notification made (now, or the first time it was sent)."""

    id: int
    reference: str | None
    amount: str = Field(description='Exact decimal, as a string: "12.50", "-5.00", "1000".')
    currency: str = Field(description="ISO 4217 code.")
    campaign: int
    refund_of: int | None = Field(description="The id of the entry a refund refunds.")
    received_at: datetime
    created: bool = Field(description="false: the reference was booked before; nothing changed.")


def _out(donation: Donation, created: bool) -> EntryOut:
    return EntryOut(
        id=donation.id,
        reference=donation.reference,
        amount=plain_amount(donation.amount_minor, donation.currency),
        currency=donation.currency,
        campaign=donation.campaign_id,
        refund_of=donation.refund_of_id,
        received_at=donation.received_at,
        created=created,
    )


async def _body(request: Request) -> bytes:
    """The body, read no further than `MAX_BODY` bytes (413 beyond)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, _TOO_LARGE)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            raise HTTPException(413, _TOO_LARGE)
    return bytes(chunks)


@router.post(
    "/donations/webhook",
    status_code=201,
    response_model=EntryOut,
    responses={200: {"model": EntryOut, "description": "Already booked: the entry it made"},
               **error_responses(400, 401, 404, 413, 422)},
)
async def webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """A payment notification, signed in the `X-Swarmdex-Signature` header (`t=TIMESTAMP,v1=HEX`:
    HMAC-SHA256 of `TIMESTAMP.BODY` under the shared secret). See `swarmdex.donations.webhook`
    for the body's fields."""
    secret = ctx.settings.donations_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise HTTPException(404)
    body = await _body(request)
    try:
        verify(request.headers.get(HEADER), body, secret.get_secret_value().encode(),
               now=time.time())
    except SignatureError as exc:
        raise HTTPException(401, str(exc)) from None
    try:
        payment = parse_payment(body, cap=ctx.settings.donations_max_amount)
    except MalformedBody as exc:
        raise HTTPException(400, str(exc)) from None
    except PayloadError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        async with transaction(ctx.db) as session:
            donation, created = await services.record_payment(session, payment)
    except services.DonationError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse(_out(donation, created).model_dump(mode="json"),
                        status_code=201 if created else 200)
