"""Campaigns, the ledger and its figures, on a real migrated SQLite file. Every `now` is
passed in: nothing here depends on the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.donations import services
from swarmdex.donations.models import CampaignCost, Donation, MessageStatus, Period
from swarmdex.donations.money import Money
from swarmdex.donations.services import DonationError, DuplicateReference, NotAllowed, NotFound
from swarmdex.donations.webhook import parse_payment

from .conftest import CAP, async_test, at, world

# days left


@pytest.mark.parametrize(
    ("now", "left"),
    [
        (at("2025-01-01", "00:00"), 31),
        (at("2025-01-30", "23:59"), 2),
        (at("2025-01-31", "00:00"), 1),  # the last day: 1 day left, not 0
        (at("2025-01-31", "23:59"), 1),
        (at("2025-02-01", "00:00"), 0),
        (at("2025-03-01"), 0),  # long over: 0, never negative
    ],
)
def test_days_left_counts_a_started_day(now: object, left: int) -> None:
    assert services.days_left(at("2025-02-01", "00:00"), now) == left  # type: ignore[arg-type]


def test_days_left_without_an_end() -> None:
    assert services.days_left(None, at("2025-01-01")) is None


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        ("2025-01-15", "2025-01-01", "2025-02-01"),
        ("2024-02-29", "2024-02-01", "2024-03-01"),
        ("2025-12-31", "2025-12-01", "2026-01-01"),
    ],
)
def test_month_bounds(when: str, start: str, end: str) -> None:
    assert services.month_bounds(at(when)) == (at(start, "00:00"), at(end, "00:00"))


# campaigns


@async_test
async def test_a_monthly_goal_is_the_sum_of_its_costs(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign(costs="Hosting: 40.00\n\nBandwidth = 59.99\r\nLegal: 0.01")
        p = await w.figures(campaign, at("2025-01-15"))
        assert p.goal == Money(10000, "EUR")
        assert [(c.label, str(c.amount)) for c in p.costs] == [
            ("Hosting", "40.00 EUR"), ("Bandwidth", "59.99 EUR"), ("Legal", "0.01 EUR")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"costs": ""}, "list at least one"),
        ({"costs": "Hosting 40"}, "Cost line 1: write it like"),
        ({"costs": "Hosting: 40\nBandwidth: 12.345"}, r"Cost line 2 \(Bandwidth\): EUR amounts have at most 2"),
        ({"costs": "Hosting: -40"}, "Cost line 1 .*cannot be negative"),
        ({"costs": "Hosting: 200000"}, "more than the largest amount"),
        ({"costs": "\n".join(f"Line {i}: 1" for i in range(31))}, "at most 30 costs"),
        ({"currency": "EURO"}, "not an ISO 4217"),
        ({"title": "  "}, "title cannot be empty"),
        ({"period": Period.ONE_OFF, "goal": "100"}, "needs a deadline"),
        ({"period": Period.ONE_OFF, "ends": at("2025-03-01")}, "needs a goal"),
        ({"period": Period.ONE_OFF, "goal": "100.001", "ends": at("2025-03-01")}, "at most 2 decimals"),
        ({"ends": at("2024-12-01")}, "must end after it starts"),
        ({"starts": datetime(1, 1, 1, tzinfo=UTC)}, "start date must be between 1970-01-01"),
        ({"ends": datetime(9999, 12, 31, tzinfo=UTC)}, "end date must be between 1970-01-01"),
        ({"starts": datetime(9999, 12, 1, tzinfo=UTC), "ends": datetime(9999, 12, 31, tzinfo=UTC)},
         "start date must be between"),
    ],
)
@async_test
async def test_campaigns_that_cannot_be_saved(url: str, fields: dict[str, object], message: str) -> None:
    async with world(url) as w:
        with pytest.raises(DonationError, match=message):
            await w.campaign(**fields)  # type: ignore[arg-type]
        async with w.sessions() as session:
            assert await services.campaigns(session) == []


@pytest.mark.parametrize("role", [Role.USER, Role.TRUSTED, Role.MODERATOR])
@async_test
async def test_only_admins_change_campaigns_and_the_ledger(url: str, role: Role) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        gift = await w.give(campaign, "10.00")
        draft = services.CampaignDraft("X", "", "EUR", Period.MONTHLY, "", "A: 1",
                                       at("2025-01-01"), None)
        async with transaction(w.sessions) as session:
            with pytest.raises(NotAllowed):
                await services.save_campaign(session, draft, by=w.users[role], cap=CAP)
            with pytest.raises(NotAllowed):
                await services.save_campaign(session, draft, by=w.users[role], cap=CAP,
                                             campaign_id=campaign.id)
            with pytest.raises(NotAllowed):
                await services.record(session, services.Entry(campaign.id, "1", "EUR", at("2025-01-02")),
                                      by=w.users[role], cap=CAP)
            with pytest.raises(NotAllowed):
                await services.refund(session, gift.id, amount="-1", by=w.users[role], cap=CAP)
        assert await w.entries() == 1


@async_test
async def test_editing_replaces_the_costs(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        draft = services.CampaignDraft("Renamed", "", "EUR", Period.MONTHLY, "", "Legal: 15",
                                       at("2025-01-01", "00:00"), None)
        async with transaction(w.sessions) as session:
            await services.save_campaign(session, draft, by=w.admin, cap=CAP, campaign_id=campaign.id)
        p = await w.figures(campaign, at("2025-01-15"))
        assert (p.title, p.goal, [c.label for c in p.costs]) == ("Renamed", Money(1500, "EUR"), ["Legal"])
        async with w.sessions() as session:
            assert len((await session.scalars(select(CampaignCost))).all()) == 1


@async_test
async def test_a_campaigns_currency_is_fixed_once_it_has_entries(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        await w.give(campaign, "5")
        draft = services.CampaignDraft("X", "", "USD", Period.MONTHLY, "", "A: 1",
                                       at("2025-01-01", "00:00"), None)
        async with transaction(w.sessions) as session:
            with pytest.raises(DonationError, match="currency of a campaign with ledger entries"):
                await services.save_campaign(session, draft, by=w.admin, cap=CAP,
                                             campaign_id=campaign.id)


@async_test
async def test_the_current_campaign_is_the_latest_running(url: str) -> None:
    async with world(url) as w:
        old = await w.campaign(title="Old", starts=at("2024-01-01", "00:00"))
        ended = await w.campaign(title="Ended", starts=at("2024-06-01", "00:00"),
                                 ends=at("2024-07-01", "00:00"))
        upcoming = await w.campaign(title="Later", starts=at("2026-01-01", "00:00"))
        async with w.sessions() as session:
            current = await services.current_campaign(session, at("2025-01-15"))
            assert current is not None and current.id == old.id
            during = await services.current_campaign(session, at("2024-06-15"))
            assert during is not None and during.id == ended.id
            later = await services.current_campaign(session, at("2026-01-01", "00:00"))
            assert later is not None and later.id == upcoming.id
            assert await services.current_campaign(session, at("2023-01-01")) is None


# the ledger, in several currencies


@async_test
async def test_totals_are_exact_and_per_currency(url: str) -> None:
    async with world(url) as w:
        eur = await w.campaign(costs="Hosting: 100")
        for amount in ["0.10"] * 10 + ["33.33", "33.33", "33.34"]:
            await w.give(eur, amount)
        await w.give(eur, "25.00", "USD")
        await w.give(eur, "0.01", "USD")
        await w.give(eur, "5000", "JPY")
        await w.give(eur, "1.255", "KWD")
        await w.give(eur, "0.001", "KWD")
        p = await w.figures(eur, at("2025-01-20"))
        assert p.raised == Money(10100, "EUR") and p.raised.amount == Decimal("101.00")
        assert p.others == (Money(5000, "JPY"), Money(1256, "KWD"), Money(2501, "USD"))
        assert [str(m) for m in p.others] == ["5,000 JPY", "1.256 KWD", "25.01 USD"]
        assert p.percent == 101 and p.bar == p.goal.minor  # the bar stops at the goal
        assert p.donors == 18  # every gift, in any currency


@pytest.mark.parametrize(
    ("currency", "costs", "gifts", "raised", "percent"),
    [
        ("JPY", "Server: 15000", ["1000", "2500", "1"], "3,501 JPY", 23),
        ("KWD", "Server: 30.000", ["1.250", "0.005", "10"], "11.255 KWD", 37),
        ("BHD", "Server: 0.003", ["0.001"], "0.001 BHD", 33),
        ("USD", "Server: 3", ["0.99"], "0.99 USD", 33),
    ],
)
@async_test
async def test_currencies_with_other_decimals(url: str, currency: str, costs: str,
                                              gifts: list[str], raised: str, percent: int) -> None:
    async with world(url) as w:
        campaign = await w.campaign(currency=currency, costs=costs)
        for gift in gifts:
            await w.give(campaign, gift)
        p = await w.figures(campaign, at("2025-01-20"))
        assert (str(p.raised), p.percent, p.others) == (raised, percent, ())


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("10.001", "EUR", "at most 2 decimals"),
        ("10.5", "JPY", "no decimals"),
        ("1.0001", "KWD", "at most 3 decimals"),
        ("-10", "EUR", "cannot be negative"),
        ("100000.01", "EUR", "more than the largest amount"),
        ("10", "EURO", "not an ISO 4217"),
        ("10.0.0", "EUR", "digits with a decimal point"),
    ],
)
@async_test
async def test_entries_that_are_refused_change_nothing(url: str, amount: str, currency: str,
                                                       message: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        with pytest.raises(DonationError, match=message):
            await w.give(campaign, amount, currency)
        assert await w.entries() == 0


@pytest.mark.parametrize("when", [datetime(1, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, tzinfo=UTC),
                                  datetime(9999, 12, 31, 23, 59, tzinfo=UTC)])
@async_test
async def test_entries_dated_outside_the_span_change_nothing(url: str, when: datetime) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        with pytest.raises(DonationError, match="date received must be between 1970-01-01"):
            await w.give(campaign, "10.00", when=when)
        assert await w.entries() == 0


@async_test
async def test_a_reference_is_booked_once(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        first = await w.give(campaign, "10", reference="bank-1")
        with pytest.raises(DuplicateReference) as caught:
            await w.give(campaign, "99", reference="bank-1")
        assert caught.value.existing_id == first.id
        await w.give(campaign, "1")  # no reference: any number of them
        await w.give(campaign, "1")
        assert await w.entries() == 3


@async_test
async def test_refunds_are_negative_entries_within_the_original(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign(currency="KWD", costs="Server: 10")
        gift = await w.give(campaign, "5.000", reference="k-1")
        async with transaction(w.sessions) as session:
            part = await services.refund(session, gift.id, amount="-1.250", by=w.admin, cap=CAP,
                                         now=at("2025-01-11"))
        assert (part.amount_minor, part.currency, part.refund_of_id) == (-1250, "KWD", gift.id)
        for amount, message in [("-3.751", "Only 3.750 KWD of entry"), ("1.000", "negative amount"),
                                ("-0.0001", "at most 3 decimals")]:
            async with transaction(w.sessions) as session:
                with pytest.raises(DonationError, match=message):
                    await services.refund(session, gift.id, amount=amount, by=w.admin, cap=CAP)
        async with transaction(w.sessions) as session:
            with pytest.raises(DonationError, match="cannot itself be refunded"):
                await services.refund(session, part.id, amount="-1", by=w.admin, cap=CAP)
            with pytest.raises(NotFound):
                await services.refund(session, 999, amount="-1", by=w.admin, cap=CAP)
            await services.refund(session, gift.id, amount="-3.750", by=w.admin, cap=CAP)
        p = await w.figures(campaign, at("2025-01-20"))
        assert (p.raised, p.donors) == (Money(0, "KWD"), 0)  # refunded in full: no donor left
        assert await w.entries() == 3


# progress over time


@async_test
async def test_a_monthly_campaign_counts_this_month(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()  # 100.00 EUR a month from 1 January
        await w.give(campaign, "30", when=at("2025-01-31", "23:59"))
        await w.give(campaign, "20", when=at("2025-02-01", "00:00"))
        late = await w.give(campaign, "50", when=at("2025-02-14"))
        # A refund in March of a February gift counts in February, not March.
        async with transaction(w.sessions) as session:
            await services.refund(session, late.id, amount="-10", by=w.admin, cap=CAP,
                                  received_at=at("2025-03-02"), now=at("2025-03-02"))
        await w.give(campaign, "5", when=at("2025-03-03"))

        january = await w.figures(campaign, at("2025-01-20"))
        assert (january.raised, january.percent, january.donors, january.days_left) == (
            Money(3000, "EUR"), 30, 1, 12)
        assert january.window_start == at("2025-01-01", "00:00")
        february = await w.figures(campaign, at("2025-02-28", "08:00"))
        assert (february.raised, february.percent, february.donors, february.days_left) == (
            Money(6000, "EUR"), 60, 2, 1)
        march = await w.figures(campaign, at("2025-03-05"))
        assert (march.raised, march.donors, march.days_left) == (Money(500, "EUR"), 1, 27)


@async_test
async def test_a_one_off_campaign_counts_everything_until_its_deadline(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign(period=Period.ONE_OFF, goal="1500.00", costs="Legal: 1500",
                                    starts=at("2025-01-01", "00:00"), ends=at("2025-04-01", "00:00"))
        await w.give(campaign, "100", when=at("2025-01-05"))
        await w.give(campaign, "275.50", when=at("2025-03-30"))
        before = await w.figures(campaign, at("2024-12-25"))
        assert (before.status, before.days_left) == ("upcoming", 90)  # the whole run is ahead
        running = await w.figures(campaign, at("2025-03-31", "09:00"))
        assert (running.status, running.raised, running.percent, running.donors, running.days_left) == (
            "running", Money(37550, "EUR"), 25, 2, 1)
        assert running.goal == Money(150000, "EUR") and running.window_start is None
        after = await w.figures(campaign, at("2025-05-01"))
        assert (after.status, after.days_left, after.raised) == ("ended", 0, Money(37550, "EUR"))


@async_test
async def test_an_ended_monthly_campaign_shows_its_last_month(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign(ends=at("2025-03-16", "00:00"))
        await w.give(campaign, "40", when=at("2025-03-10"))
        await w.give(campaign, "40", when=at("2025-02-10"))
        p = await w.figures(campaign, at("2025-06-01"))
        assert (p.status, p.raised, p.days_left, p.window_start) == (
            "ended", Money(4000, "EUR"), 0, at("2025-03-01", "00:00"))
        mid = await w.figures(campaign, at("2025-03-10"))
        assert mid.days_left == 6  # to the campaign's end, before the month's


# the donor wall


@async_test
async def test_the_donor_wall_names_only_who_asked_and_shows_approved_messages(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        named = await w.give(campaign, "5", donor_name="Ada", show_name=True, message="Go!",
                             when=at("2025-01-03"))
        await w.give(campaign, "5", donor_name="Bob", show_name=False, message="Secret",
                     when=at("2025-01-04"))
        await w.give(campaign, "5", show_name=True, when=at("2025-01-05"))  # no name to show
        gone = await w.give(campaign, "5", donor_name="Eve", show_name=True, when=at("2025-01-06"))
        async with transaction(w.sessions) as session:
            await services.refund(session, gone.id, amount="-5", by=w.admin, cap=CAP)

        async def wall() -> list[tuple[str, str | None]]:
            async with w.sessions() as session:
                return [(e.name, e.message) for e in await services.donor_wall(session, campaign.id)]

        assert await wall() == [("Anonymous", None), ("Anonymous", None), ("Ada", None)]
        async with w.sessions() as session:
            pending = await services.pending_messages(session)
        assert [(row.id, row.message) for row in pending] == [(named.id, "Go!"), (named.id + 1, "Secret")]
        async with transaction(w.sessions) as session:
            with pytest.raises(NotAllowed):
                await services.moderate(session, named.id, approve=True, by=w.users[Role.TRUSTED])
            await services.moderate(session, named.id, approve=True, by=w.users[Role.MODERATOR])
            await services.moderate(session, named.id + 1, approve=False, by=w.admin)
            with pytest.raises(NotFound):
                await services.moderate(session, gone.id, approve=True, by=w.admin)  # no message
        assert await wall() == [("Anonymous", None), ("Anonymous", None), ("Ada", "Go!")]
        async with w.sessions() as session:
            assert await services.pending_messages(session) == []
            statuses = (await session.scalars(select(Donation.message_status).order_by(Donation.id))).all()
        assert statuses[:2] == [MessageStatus.APPROVED, MessageStatus.REJECTED]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"donor_name": "x" * 65}, "name can be at most 64"),
        ({"donor_name": "a\x00b"}, "control characters"),
        ({"message": "m" * 1001}, "at most 1,000 characters"),
        ({"message": "bell\x07"}, "control characters"),
        ({"method": " "}, "method cannot be empty"),
        ({"reference": "r" * 129}, "reference can be at most 128"),
    ],
)
@async_test
async def test_text_rules(url: str, fields: dict[str, str], message: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        with pytest.raises(DonationError, match=message):
            await w.give(campaign, "5", **fields)  # type: ignore[arg-type]
        assert await w.entries() == 0


# the webhook's bookings


def payment(**fields: object) -> bytes:
    import json

    base: dict[str, object] = {"reference": "ch_1", "amount": "12.50", "currency": "EUR"}
    return json.dumps(base | fields).encode()


@async_test
async def test_payments_are_booked_once(url: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        now = at("2025-01-10")
        async with transaction(w.sessions) as session:
            first, created = await services.record_payment(
                session, parse_payment(payment(), cap=CAP), now=now)
        assert created and (first.campaign_id, first.amount_minor, first.entered_by_id) == (
            campaign.id, 1250, None)
        async with transaction(w.sessions) as session:
            again, created = await services.record_payment(
                session, parse_payment(payment(amount="99.00"), cap=CAP), now=now)
        assert not created and again.id == first.id and again.amount_minor == 1250
        async with transaction(w.sessions) as session:
            refund, created = await services.record_payment(
                session,
                parse_payment(payment(reference="re_1", type="refund", refund_of="ch_1",
                                      amount="-2.50"), cap=CAP),
                now=now,
            )
        assert created and (refund.amount_minor, refund.refund_of_id) == (-250, first.id)
        assert await w.entries() == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"campaign": 999}, "no such campaign"),
        ({"received_at": "2024-12-01T00:00:00Z"}, "No campaign is running"),
        ({"received_at": "2025-01-12T00:00:01Z"}, "in the future"),
        ({"type": "refund", "refund_of": "nope", "amount": "-1"}, "No entry has the reference"),
        ({"type": "refund", "refund_of": "ch_0", "amount": "-1", "currency": "USD"}, "is in EUR, not USD"),
        ({"type": "refund", "refund_of": "ch_0", "amount": "-10.01"}, "Only 10.00 EUR"),
        ({"donor_name": "x" * 65}, "at most 64"),
    ],
)
@async_test
async def test_payments_that_cannot_be_booked(url: str, fields: dict[str, object], message: str) -> None:
    async with world(url) as w:
        campaign = await w.campaign()
        await w.give(campaign, "10", reference="ch_0")
        async with transaction(w.sessions) as session:
            with pytest.raises(DonationError, match=message):
                await services.record_payment(session, parse_payment(payment(**fields), cap=CAP),
                                              now=at("2025-01-10") + timedelta(hours=12))
        assert await w.entries() == 1
