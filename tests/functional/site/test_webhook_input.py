"""The payment webhook answers any signed body it cannot book with a 4xx that says why, and
books nothing: times at the ends of what a date can hold, over-long numbers, broken text."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import func, select

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.donations import services
from swarmdex.donations.models import Donation, Period
from swarmdex.donations.webhook import HEADER, sign

from .helpers import async_test, running_site

SECRET: Final = "whsec_input"
WEBHOOK: Final = "/api/v1/donations/webhook"
HEAD: Final = b'{"reference": "ch_1", "amount": "5.00", "currency": "EUR"'

REFUSED: Final[list[tuple[bytes, str]]] = [
    (HEAD + b', "received_at": "9999-12-31T23:59:59.999999-23:59"}', "between 1970-01-01"),
    (HEAD + b', "received_at": "9999-12-31T23:59:59Z"}', "between 1970-01-01"),
    (HEAD + b', "received_at": "0001-01-01T00:00:00+23:59"}', "between 1970-01-01"),
    (HEAD + b', "received_at": "0001-01-01T00:00:00Z"}', "between 1970-01-01"),
    (HEAD + b', "received_at": "1969-12-31T23:59:59Z"}', "between 1970-01-01"),
    (HEAD + b', "received_at": "+10000-01-01T00:00:00Z"}', "ISO 8601"),
    (HEAD + b', "campaign": 1' + b"0" * 5000 + b"}", "more than 19 digits"),
    (HEAD + b', "campaign": -1' + b"0" * 30 + b"}", "more than 19 digits"),
    (b'{"reference": "ch_\\ud800", "amount": "5.00", "currency": "EUR"}', "not valid Unicode"),
    (HEAD + b', "\\udc00": 1}', "not valid Unicode"),
    (HEAD + b', "donor_name": "Ada \\udbff"}', "not valid Unicode"),
]


@async_test
async def test_unbookable_bodies_get_a_clear_4xx_and_book_nothing(tmp_path: Path) -> None:
    async with running_site(tmp_path, donations_webhook_secret=SECRET) as site:
        async with transaction(site.ctx.db) as session:
            admin = User(name="root", password_hash="!", role=Role.ADMIN)
            session.add(admin)
            await session.flush()
            draft = services.CampaignDraft(
                "Hosting", "", "EUR", Period.MONTHLY, "", "Hosting: 40",
                starts_at=utcnow() - timedelta(days=40), ends_at=None)
            campaign = await services.save_campaign(session, draft, by=admin,
                                                    cap=site.ctx.settings.donations_max_amount)
        client = site.client()
        for body, detail in REFUSED:
            headers = {HEADER: sign(body, SECRET.encode(), int(time.time())),
                       "Content-Type": "application/json"}
            answer = await client.post(WEBHOOK, content=body, headers=headers)
            assert answer.status_code == 422, (body[:120], answer.text)
            assert detail in json.dumps(answer.json()["detail"], ensure_ascii=False), answer.text
        async with site.ctx.db() as session:
            assert await session.scalar(select(func.count()).select_from(Donation)) == 0
        # The start of the span itself is booked.
        body = HEAD.replace(b"ch_1", b"ch_2") + (
            f', "campaign": {campaign.id}, "received_at": "1970-01-01T00:00:00Z"}}'.encode())
        headers = {HEADER: sign(body, SECRET.encode(), int(time.time())),
                   "Content-Type": "application/json"}
        answer = await client.post(WEBHOOK, content=body, headers=headers)
        assert answer.status_code == 201, answer.text
