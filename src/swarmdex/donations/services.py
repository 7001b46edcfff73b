"""Donations: campaigns, the ledger, progress figures and the donor wall.

Rules:

- Only admins create or change campaigns and enter ledger entries; the payment provider's
  webhook enters them too, once `webhook.verify` accepted its signature. Staff (moderators
  and admins) approve donors' messages.
- The ledger is append-only. A refund is a new, negative entry naming the entry it refunds,
  in that entry's currency and campaign, and the refunds of an entry never exceed it.
- Every amount is exact (`money`): parsed strictly, refused rather than rounded, capped by
  the operator's `donations_max_amount`, and totalled per currency. A donation in another
  currency than its campaign's counts on its own ("also 25.00 USD"), never converted.
- A one-off campaign counts all its entries towards its goal, until its deadline. A
  monthly campaign's goal is the sum of its costs and counts the entries received in the
  current calendar month (UTC); a refund counts in the month of the entry it refunds, so
  last month's total does not change this month's.
- Donors are named on the donor wall only if they chose to be, else "Anonymous"; their
  message shows once staff approved it.

Functions that change something raise `DonationError` (or its subclasses); the message can
be shown as it is. None of them commits: the caller's transaction decides.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from swarmdex.accounts.services import has_role, user_by_name
from swarmdex.audit import services as audit
from swarmdex.db.models import Role, User, utcnow
from swarmdex.donations.dates import OutOfRange, check_time
from swarmdex.donations.models import (
    LABEL_LENGTH,
    METHOD_LENGTH,
    NAME_LENGTH,
    REFERENCE_LENGTH,
    TITLE_LENGTH,
    Campaign,
    CampaignCost,
    Donation,
    MessageStatus,
    Period,
)
from swarmdex.donations.money import Money, MoneyError, check_currency, parse_amount, to_minor
from swarmdex.donations.webhook import Payment

__all__ = [
    "ANONYMOUS",
    "COSTS_MAX",
    "DESCRIPTION_MAX",
    "MESSAGE_MAX",
    "WALL_SHOWN",
    "CampaignDraft",
    "CostView",
    "DonationError",
    "DuplicateReference",
    "Entry",
    "LedgerRow",
    "NotAllowed",
    "NotFound",
    "Progress",
    "WallEntry",
    "campaigns",
    "current_campaign",
    "days_left",
    "donor_wall",
    "get_campaign",
    "ledger",
    "moderate",
    "month_bounds",
    "parse_costs",
    "pending_messages",
    "progress",
    "record",
    "record_payment",
    "refund",
    "save_campaign",
    "totals",
]

ANONYMOUS: Final = "Anonymous"
DESCRIPTION_MAX: Final = 20_000
MESSAGE_MAX: Final = 1_000
COSTS_MAX: Final = 30
WALL_SHOWN: Final = 100
# A webhook may say when the money arrived; a time further ahead than this is a mistake.
_FUTURE_SLACK: Final = timedelta(days=1)

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COST_LINE: Final = re.compile(r"(?P<label>.+?)\s*[:=]\s*(?P<amount>\S+)")


class DonationError(ValueError):
    """A change that cannot be made; `str(error)` says why, to the admin or the provider."""


class NotFound(DonationError):
    """No such campaign or entry."""


class NotAllowed(DonationError):
    """The user may not do this."""


class DuplicateReference(DonationError):
    """An entry with this payment reference is in the ledger already: `existing` (usable
    while its transaction lasts) and `existing_id` (after)."""

    def __init__(self, existing: Donation) -> None:
        super().__init__(
            f"The ledger has an entry with the reference “{existing.reference}” already "
            f"(entry {existing.id})."
        )
        self.existing = existing
        self.existing_id = existing.id


def _require(user: User | None, role: Role, what: str) -> User:
    if user is None or user.disabled_at is not None or not has_role(user, role):
        raise NotAllowed(f"Only {role.value}s can {what}.")
    return user


# Text rules


def _line(value: str | None, *, field: str, limit: int, required: bool = False) -> str | None:
    """One line of plain text: spaces collapsed, no control characters; None when empty."""
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise DonationError(f"The {field} cannot be empty.")
        return None
    if _CONTROL.search(text):
        raise DonationError(f"The {field} contains control characters.")
    if len(text) > limit:
        raise DonationError(f"The {field} can be at most {limit} characters long.")
    return text


def _in_span(when: datetime, what: str) -> None:
    try:
        check_time(when, what)
    except OutOfRange as exc:
        raise DonationError(str(exc)) from None


def _message(value: str) -> str:
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(text):
        raise DonationError("The message contains control characters.")
    if len(text) > MESSAGE_MAX:
        raise DonationError(f"The message can be at most {MESSAGE_MAX:,} characters long.")
    return text


def _amount(text: str, currency: str, *, cap: Decimal, negative: bool = False) -> int:
    try:
        return to_minor(parse_amount(text.strip(), currency, negative=negative, cap=cap), currency)
    except MoneyError as exc:
        raise DonationError(str(exc)) from None


def _currency(code: str) -> str:
    try:
        return check_currency(code.strip())
    except MoneyError as exc:
        raise DonationError(str(exc)) from None


# Campaigns


def parse_costs(text: str, currency: str, *, cap: Decimal) -> list[tuple[str, int]]:
    """Cost lines as the admin types them, one a line: "Hosting: 40.00" (or "Hosting = 40").
    Blank lines are skipped; (label, amount in minor units) in the order given."""
    costs: list[tuple[str, int]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        match = _COST_LINE.fullmatch(raw.strip())
        if match is None:
            raise DonationError(f"Cost line {number}: write it like “Hosting: 40.00”.")
        label = _line(match["label"], field="cost's label", limit=LABEL_LENGTH, required=True)
        assert label is not None
        try:
            minor = _amount(match["amount"], currency, cap=cap)
        except DonationError as exc:
            raise DonationError(f"Cost line {number} ({label}): {exc}") from None
        costs.append((label, minor))
    if len(costs) > COSTS_MAX:
        raise DonationError(f"A campaign can list at most {COSTS_MAX} costs.")
    return costs


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    """A campaign as the admin form gives it: amounts still as text."""

    title: str
    description: str
    currency: str
    period: Period
    goal: str  # one-off only; a monthly goal is the sum of the costs
    costs: str  # lines for `parse_costs`
    starts_at: datetime
    ends_at: datetime | None  # a one-off's deadline (required); a monthly's last moment


async def save_campaign(
    session: AsyncSession,
    draft: CampaignDraft,
    *,
    by: User,
    cap: Decimal,
    campaign_id: int | None = None,
) -> Campaign:
    """Create a campaign (or replace campaign `campaign_id`'s details and costs)."""
    _require(by, Role.ADMIN, "change donation campaigns")
    title = _line(draft.title, field="title", limit=TITLE_LENGTH, required=True)
    assert title is not None
    description = draft.description.replace("\r\n", "\n").strip()
    if len(description) > DESCRIPTION_MAX:
        raise DonationError(f"The description can be at most {DESCRIPTION_MAX:,} characters long.")
    currency = _currency(draft.currency)
    costs = parse_costs(draft.costs, currency, cap=cap)
    goal: int | None = None
    if draft.period is Period.ONE_OFF:
        if draft.ends_at is None:
            raise DonationError("A one-off campaign needs a deadline.")
        if not draft.goal.strip():
            raise DonationError("A one-off campaign needs a goal.")
        goal = _amount(draft.goal, currency, cap=cap)
    elif not costs:
        raise DonationError("A monthly campaign's goal is the sum of its costs: list at least one.")
    _in_span(draft.starts_at, "start date")
    if draft.ends_at is not None:
        _in_span(draft.ends_at, "end date")
    if draft.ends_at is not None and draft.ends_at <= draft.starts_at:
        raise DonationError("A campaign must end after it starts.")

    if campaign_id is None:
        campaign = Campaign(created_at=utcnow(), costs=[])
        session.add(campaign)
    else:
        campaign = await get_campaign(session, campaign_id)
        if campaign.currency != currency and await _has_entries(session, campaign.id):
            raise DonationError("The currency of a campaign with ledger entries cannot change.")
        campaign.costs.clear()
        await session.flush()  # the old lines go before new ones take their positions
    campaign.title = title
    campaign.description = description
    campaign.currency = currency
    campaign.period = draft.period
    campaign.goal_minor = goal
    campaign.starts_at = draft.starts_at
    campaign.ends_at = draft.ends_at
    await session.flush()
    campaign.costs.extend(
        CampaignCost(campaign_id=campaign.id, position=i, label=label, amount_minor=minor)
        for i, (label, minor) in enumerate(costs)
    )
    await session.flush()
    await audit.record(session, by, "campaign.add" if campaign_id is None else "campaign.edit",
                       "campaign", campaign.id,
                       after={"title": title, "currency": currency, "goal_minor": goal,
                              "costs": [[label, minor] for label, minor in costs]})
    return campaign


async def _has_entries(session: AsyncSession, campaign_id: int) -> bool:
    query = select(Donation.id).where(Donation.campaign_id == campaign_id).limit(1)
    return (await session.scalar(query)) is not None


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    """The campaign with its costs, or NotFound."""
    campaign = await session.scalar(
        select(Campaign).options(selectinload(Campaign.costs)).where(Campaign.id == campaign_id)
    )
    if campaign is None:
        raise NotFound("There is no such campaign.")
    return campaign


async def campaigns(session: AsyncSession) -> list[Campaign]:
    """Every campaign, the latest to start first, with its costs."""
    rows = await session.scalars(
        select(Campaign).options(selectinload(Campaign.costs))
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    )
    return list(rows.all())


async def current_campaign(session: AsyncSession, now: datetime) -> Campaign | None:
    """The campaign running at `now` (the latest to start, if several), with its costs."""
    return await session.scalar(
        select(Campaign).options(selectinload(Campaign.costs))
        .where(Campaign.starts_at <= now, or_(Campaign.ends_at.is_(None), Campaign.ends_at > now))
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
        .limit(1)
    )


# Figures


def month_bounds(when: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) that `when` falls in: its first moment and the next month's."""
    when = when.astimezone(UTC)
    start = datetime(when.year, when.month, 1, tzinfo=UTC)
    following = datetime(when.year + (when.month == 12), when.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


Status = Literal["upcoming", "running", "ended"]


def _status(campaign: Campaign, now: datetime) -> Status:
    if now < campaign.starts_at:
        return "upcoming"
    if campaign.ends_at is not None and now >= campaign.ends_at:
        return "ended"
    return "running"


def _window(campaign: Campaign, now: datetime) -> tuple[datetime, datetime] | None:
    """The entries a monthly campaign counts now: the month of `now`, or the month it
    ended in (began in) if it is over (not started). None for a one-off: all of them."""
    if campaign.period is Period.ONE_OFF:
        return None
    when = max(now, campaign.starts_at)
    if campaign.ends_at is not None and when >= campaign.ends_at:
        when = campaign.ends_at - timedelta(microseconds=1)
    start, end = month_bounds(when)
    return max(start, campaign.starts_at), min(end, campaign.ends_at or end)


def _end_of_count(campaign: Campaign, now: datetime) -> datetime | None:
    if campaign.period is Period.ONE_OFF:
        return campaign.ends_at
    month_end = month_bounds(max(now, campaign.starts_at))[1]
    return month_end if campaign.ends_at is None else min(month_end, campaign.ends_at)


def days_left(until: datetime | None, now: datetime) -> int | None:
    """Whole days from `now` to `until`, a started day counting as one: 1 on the last day,
    0 once `until` has passed; None for no end."""
    if until is None:
        return None
    seconds = (until - now).total_seconds()
    return max(0, math.ceil(seconds / 86400))


@dataclass(frozen=True, slots=True)
class CostView:
    label: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's figures at one moment, as the pages show them."""

    campaign_id: int
    title: str
    description: str  # Markdown
    period: Period
    status: Status
    goal: Money
    raised: Money  # in the campaign's currency, refunds deducted
    others: tuple[Money, ...]  # received in other currencies, each on its own, never converted
    donors: int  # donations counted that were not refunded in full, in any currency
    days_left: int | None  # one-off: to the deadline; monthly: to the end of the month
    ends_at: datetime | None  # what `days_left` counts to
    window_start: datetime | None  # monthly: the month counted
    costs: tuple[CostView, ...]

    @property
    def percent(self) -> int:
        """Of the goal raised, in whole percent rounded down (may pass 100)."""
        return max(0, self.raised.minor) * 100 // self.goal.minor

    @property
    def bar(self) -> int:
        """The progress bar's value, in minor units: between 0 and the goal."""
        return min(max(0, self.raised.minor), self.goal.minor)


def _goal(campaign: Campaign) -> int:
    if campaign.period is Period.MONTHLY or campaign.goal_minor is None:
        return sum(cost.amount_minor for cost in campaign.costs)
    return campaign.goal_minor


async def progress(session: AsyncSession, campaign: Campaign, now: datetime) -> Progress:
    """The figures of `campaign` (loaded with its costs) at `now`."""
    window = _window(campaign, now)
    query = select(
        Donation.id, Donation.amount_minor, Donation.currency, Donation.refund_of_id
    ).where(Donation.campaign_id == campaign.id)
    if window is not None:
        counted = and_(
            Donation.campaign_id == campaign.id,
            Donation.refund_of_id.is_(None),
            Donation.received_at >= window[0],
            Donation.received_at < window[1],
        )
        # Refunds count with what they refund, whenever they were made.
        query = query.where(or_(
            counted, Donation.refund_of_id.in_(select(Donation.id).where(counted))
        ))
    totals: dict[str, int] = defaultdict(int)
    net: dict[int, int] = defaultdict(int)
    for entry_id, minor, currency, refund_of in (await session.execute(query)).all():
        totals[currency] += minor
        net[refund_of or entry_id] += minor
    until = _end_of_count(campaign, now)
    status = _status(campaign, now)
    return Progress(
        campaign_id=campaign.id,
        title=campaign.title,
        description=campaign.description,
        period=campaign.period,
        status=status,
        goal=Money(_goal(campaign), campaign.currency),
        raised=Money(totals.pop(campaign.currency, 0), campaign.currency),
        others=tuple(Money(minor, code) for code, minor in sorted(totals.items()) if minor),
        donors=sum(1 for minor in net.values() if minor > 0),
        days_left=days_left(until, now) if status != "upcoming" else days_left(until, campaign.starts_at),
        ends_at=until,
        window_start=window[0] if window is not None else None,
        costs=tuple(CostView(c.label, Money(c.amount_minor, campaign.currency)) for c in campaign.costs),
    )


# The ledger


@dataclass(frozen=True, slots=True)
class Entry:
    """A donation as the admin form gives it: the amount still as text."""

    campaign_id: int
    amount: str
    currency: str
    received_at: datetime
    donor_name: str = ""
    show_name: bool = False
    message: str = ""
    method: str = "manual"
    reference: str = ""


async def _by_reference(session: AsyncSession, reference: str) -> Donation | None:
    return await session.scalar(select(Donation).where(Donation.reference == reference))


async def _insert(session: AsyncSession, donation: Donation) -> Donation:
    """Add `donation`; DuplicateReference (changing nothing) if its reference is taken."""
    if donation.reference is not None:
        existing = await _by_reference(session, donation.reference)
        if existing is not None:
            raise DuplicateReference(existing)
    session.add(donation)
    try:
        # A savepoint: a reference taken by a concurrent writer since the look-up above
        # (the UNIQUE constraint refuses it) leaves the caller's transaction usable.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        existing = await _by_reference(session, donation.reference or "")
        if existing is None:
            raise
        raise DuplicateReference(existing) from None
    return donation


def _new_donation(
    *,
    campaign: Campaign,
    minor: int,
    currency: str,
    received_at: datetime,
    donor_name: str | None,
    show_name: bool,
    message: str,
    method: str | None,
    reference: str | None,
    by: User | None,
    now: datetime,
) -> Donation:
    _in_span(received_at, "date received")
    name = _line(donor_name, field="donor's name", limit=NAME_LENGTH)
    text = _message(message)
    return Donation(
        campaign_id=campaign.id,
        amount_minor=minor,
        currency=currency,
        received_at=received_at,
        donor_name=name,
        show_name=show_name and name is not None,
        message=text,
        message_status=MessageStatus.PENDING if text else MessageStatus.NONE,
        method=_line(method, field="method", limit=METHOD_LENGTH, required=True),
        reference=_line(reference, field="reference", limit=REFERENCE_LENGTH),
        entered_by_id=by.id if by is not None else None,
        created_at=now,
    )


async def record(
    session: AsyncSession, entry: Entry, *, by: User, cap: Decimal, now: datetime | None = None
) -> Donation:
    """A donation entered by an admin."""
    now = now or utcnow()
    _require(by, Role.ADMIN, "enter donations")
    campaign = await get_campaign(session, entry.campaign_id)
    currency = _currency(entry.currency)
    donation = _new_donation(
        campaign=campaign,
        minor=_amount(entry.amount, currency, cap=cap),
        currency=currency,
        received_at=entry.received_at,
        donor_name=entry.donor_name,
        show_name=entry.show_name,
        message=entry.message,
        method=entry.method,
        reference=entry.reference,
        by=by,
        now=now,
    )
    added = await _insert(session, donation)
    await audit.record(session, by, "donation.add", "donation", added.id,
                       after={"amount_minor": added.amount_minor, "currency": added.currency,
                              "campaign_id": added.campaign_id, "reference": added.reference})
    return added


async def _refundable(session: AsyncSession, original: Donation) -> int:
    """What is left to refund of `original`, in its minor units."""
    if original.refund_of_id is not None:
        raise DonationError("A refund cannot itself be refunded.")
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0))
        .where(Donation.refund_of_id == original.id)
    )
    return original.amount_minor + int(refunded or 0)


async def _refund_entry(
    session: AsyncSession,
    original: Donation,
    minor: int,
    *,
    received_at: datetime,
    method: str,
    reference: str | None,
    by: User | None,
    now: datetime,
) -> Donation:
    left = await _refundable(session, original)
    if -minor > left:
        raise DonationError(
            f"Only {Money(left, original.currency)} of entry {original.id} is left to refund."
        )
    campaign = await get_campaign(session, original.campaign_id)
    donation = _new_donation(
        campaign=campaign, minor=minor, currency=original.currency, received_at=received_at,
        donor_name=None, show_name=False, message="", method=method, reference=reference,
        by=by, now=now,
    )
    donation.refund_of_id = original.id
    return await _insert(session, donation)


async def refund(
    session: AsyncSession,
    donation_id: int,
    *,
    amount: str,
    by: User,
    cap: Decimal,
    received_at: datetime | None = None,
    method: str = "refund",
    reference: str = "",
    now: datetime | None = None,
) -> Donation:
    """Refund (part of) entry `donation_id`: a negative entry ("-5.00") in its currency."""
    now = now or utcnow()
    _require(by, Role.ADMIN, "enter refunds")
    original = await session.get(Donation, donation_id)
    if original is None:
        raise NotFound("There is no such ledger entry.")
    minor = _amount(amount, original.currency, cap=cap, negative=True)
    refunded = await _refund_entry(
        session, original, minor, received_at=received_at or now, method=method,
        reference=reference, by=by, now=now,
    )
    await audit.record(session, by, "donation.refund", "donation", original.id,
                       after={"refund_id": refunded.id, "amount_minor": refunded.amount_minor,
                              "currency": refunded.currency})
    return refunded


async def record_payment(
    session: AsyncSession, payment: Payment, *, now: datetime | None = None
) -> tuple[Donation, bool]:
    """Book a webhook notification: (its entry, True if new). A reference already in the
    ledger gives its existing entry and changes nothing (False): providers send again
    whatever they are not sure arrived."""
    now = now or utcnow()
    existing = await _by_reference(session, payment.reference)
    if existing is not None:
        return existing, False
    received_at = payment.received_at or now
    if received_at > now + _FUTURE_SLACK:
        raise DonationError("received_at is in the future.")
    try:
        if payment.kind == "refund":
            assert payment.refund_of is not None
            original = await _by_reference(session, payment.refund_of)
            if original is None:
                raise NotFound(f"No entry has the reference “{payment.refund_of}” to refund.")
            if original.currency != payment.currency:
                raise DonationError(
                    f"Entry “{payment.refund_of}” is in {original.currency}, "
                    f"not {payment.currency}."
                )
            minor = to_minor(payment.amount, payment.currency)
            donation = await _refund_entry(
                session, original, minor, received_at=received_at, method=payment.method,
                reference=payment.reference, by=None, now=now,
            )
        else:
            if payment.campaign_id is not None:
                campaign = await get_campaign(session, payment.campaign_id)
            else:
                found = await current_campaign(session, received_at)
                if found is None:
                    raise NotFound("No campaign is running: name one in “campaign”.")
                campaign = found
            donation = _new_donation(
                campaign=campaign, minor=to_minor(payment.amount, payment.currency),
                currency=payment.currency, received_at=received_at,
                donor_name=payment.donor_name, show_name=payment.show_name,
                message=payment.message, method=payment.method, reference=payment.reference,
                by=None, now=now,
            )
            donation = await _insert(session, donation)
    except DuplicateReference as duplicate:  # sent twice at once: the other one won
        return duplicate.existing, False
    return donation, True


async def moderate(
    session: AsyncSession, donation_id: int, *, approve: bool, by: User
) -> Donation:
    """Approve (or reject) a donor's message for the donor wall: staff only."""
    _require(by, Role.MODERATOR, "approve donors' messages")
    donation = await session.get(Donation, donation_id)
    if donation is None or donation.message_status is MessageStatus.NONE:
        raise NotFound("There is no such message.")
    before = donation.message_status.value
    donation.message_status = MessageStatus.APPROVED if approve else MessageStatus.REJECTED
    await session.flush()
    await audit.record(session, by, "donation.message", "donation", donation.id,
                       before={"message_status": before},
                       after={"message_status": donation.message_status.value})
    return donation


# Reading the ledger


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One entry as the admin page and the CSV export show it."""

    id: int
    campaign_id: int
    campaign_title: str
    amount: Money
    received_at: datetime
    donor_name: str | None
    show_name: bool
    message: str
    message_status: MessageStatus
    method: str
    reference: str | None
    refund_of_id: int | None
    entered_by: str | None  # an admin's name; None for the webhook
    created_at: datetime
    refundable: Money | None  # what is left to refund; None for a refund


async def ledger(
    session: AsyncSession, *, limit: int | None = None, only_pending: bool = False
) -> list[LedgerRow]:
    """The ledger, newest entry first (all of it without `limit`)."""
    refunded = (
        select(Donation.refund_of_id.label("id"), func.sum(Donation.amount_minor).label("minor"))
        .where(Donation.refund_of_id.is_not(None))
        .group_by(Donation.refund_of_id)
        .subquery()
    )
    query = (
        select(Donation, Campaign.title, User.name, func.coalesce(refunded.c.minor, 0))
        .join(Campaign, Campaign.id == Donation.campaign_id)
        .outerjoin(User, User.id == Donation.entered_by_id)
        .outerjoin(refunded, refunded.c.id == Donation.id)
        .order_by(Donation.received_at.desc(), Donation.id.desc())
    )
    if only_pending:
        query = query.where(Donation.message_status == MessageStatus.PENDING)
    if limit is not None:
        query = query.limit(limit)
    return [
        LedgerRow(
            id=d.id,
            campaign_id=d.campaign_id,
            campaign_title=title,
            amount=Money(d.amount_minor, d.currency),
            received_at=d.received_at,
            donor_name=d.donor_name,
            show_name=d.show_name,
            message=d.message,
            message_status=d.message_status,
            method=d.method,
            reference=d.reference,
            refund_of_id=d.refund_of_id,
            entered_by=name,
            created_at=d.created_at,
            refundable=None if d.refund_of_id is not None
            else Money(d.amount_minor + int(minor), d.currency),
        )
        for d, title, name, minor in (await session.execute(query)).all()
    ]


async def pending_messages(session: AsyncSession) -> list[LedgerRow]:
    """Entries whose message waits for staff, oldest first."""
    return list(reversed(await ledger(session, only_pending=True)))


@dataclass(frozen=True, slots=True)
class WallEntry:
    name: str  # the donor's, if they chose to be named; else ANONYMOUS
    message: str | None  # only once approved; plain text
    received_at: datetime


async def donor_wall(
    session: AsyncSession, campaign_id: int, *, limit: int = WALL_SHOWN
) -> list[WallEntry]:
    """The campaign's donors, newest first, as the public may see them. Donations refunded
    in full are left out. No amounts: giving is what is thanked, not how much."""
    refunded = (
        select(Donation.refund_of_id.label("id"), func.sum(Donation.amount_minor).label("minor"))
        .where(Donation.refund_of_id.is_not(None))
        .group_by(Donation.refund_of_id)
        .subquery()
    )
    rows = await session.execute(
        select(Donation.donor_name, Donation.show_name, Donation.message,
               Donation.message_status, Donation.received_at)
        .outerjoin(refunded, refunded.c.id == Donation.id)
        .where(
            Donation.campaign_id == campaign_id,
            Donation.refund_of_id.is_(None),
            Donation.amount_minor + func.coalesce(refunded.c.minor, 0) > 0,
        )
        .order_by(Donation.received_at.desc(), Donation.id.desc())
        .limit(limit)
    )
    return [
        WallEntry(
            name=name if show and name else ANONYMOUS,
            message=message if status is MessageStatus.APPROVED and message else None,
            received_at=received_at,
        )
        for name, show, message, status, received_at in rows.all()
    ]


def totals(rows: Sequence[LedgerRow]) -> dict[str, Money]:
    """Totals per currency of `rows` (never one figure for several currencies)."""
    totals: dict[str, Money] = {}
    for row in rows:
        code = row.amount.currency
        totals[code] = totals[code] + row.amount if code in totals else row.amount
    return dict(sorted(totals.items()))


async def mark_donor(session: AsyncSession, name: str, *, donor: bool, by: User) -> User:
    """Record that the account `name` has donated (or take that back), for the donor badge
    its owner may choose to show. Donations in the ledger name donors as they wish to be
    named, not by account, so an admin links the two by hand; audited."""
    _require(by, Role.ADMIN, "mark donors")
    user = await user_by_name(session, name.strip())
    if user is None:
        raise NotFound(f"There is no account called “{name.strip()}”.")
    if user.is_donor != donor:
        await audit.record(session, by, "user.donor", "user", user.name,
                           before={"is_donor": user.is_donor}, after={"is_donor": donor})
        user.is_donor = donor
        await session.flush()
    return user
