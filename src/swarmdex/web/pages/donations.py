"""The donations drive: the campaign pages (/donate, /donate/ID), the bar on the home page,
and the admins' ledger (/admin/donations, its forms and its CSV export).

Every figure comes from `donations.services.progress`, computed per request from the
ledger: no cached totals to drift. The admin forms post with the CSRF field; a refused form
comes back with the reason and what was typed, and a done one redirects to
/admin/donations?done=WHAT, which shows one of the fixed texts in `DONE`.

Dates in the forms are days (UTC): a campaign starts at the beginning of its first day and
a deadline is the end of its day, so "until 31 March" includes 31 March.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.donations import services
from swarmdex.donations.dates import OutOfRange, check_time
from swarmdex.donations.export import ledger_csv
from swarmdex.donations.models import Campaign, Period
from swarmdex.donations.money import CURRENCIES, plain_amount
from swarmdex.donations.services import (
    CampaignDraft,
    DonationError,
    Entry,
    NotAllowed,
    NotFound,
    Progress,
)
from swarmdex.web.auth import require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["DONE", "campaign_bar", "router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]
Id = RowId

LEDGER_SHOWN: Final = 200  # the admin page's latest entries; the CSV has them all

DONE: Final = {
    "campaign": "Campaign saved.",
    "entry": "Donation entered.",
    "refund": "Refund entered.",
    "approved": "Message approved: it shows on the donor wall.",
    "rejected": "Message rejected: it will not be shown.",
    "donor": "Donor status saved: the account's owner may now show the badge, or no longer.",
}


def day(when: datetime | None) -> str:
    """"5 January 2025" (UTC)."""
    return "" if when is None else f"{when.day} {when:%B %Y}"


def last_day(end: datetime | None) -> str:
    """The last day before the exclusive end `end`: a deadline as people say it."""
    return day(end - timedelta(microseconds=1)) if end is not None else ""


async def campaign_bar(ctx: SiteContext) -> Progress | None:
    """The running campaign's figures, for the home page; None when none is running."""
    now = utcnow()
    async with ctx.db() as session:
        campaign = await services.current_campaign(session, now)
        return None if campaign is None else await services.progress(session, campaign, now)


# Public pages


async def _campaign_page(request: Request, ctx: SiteContext, campaign: Campaign) -> HTMLResponse:
    async with ctx.db() as session:
        figures = await services.progress(session, campaign, utcnow())
        wall = await services.donor_wall(session, campaign.id)
    return render(request, "donations/campaign.html", p=figures, wall=wall, day=day,
                  last_day=last_day)


@router.get("/donate", response_class=HTMLResponse)
async def donate(request: Request, ctx: Ctx) -> HTMLResponse:
    async with ctx.db() as session:
        campaign = await services.current_campaign(session, utcnow())
        past = [] if campaign is not None else (await services.campaigns(session))[:10]
    if campaign is None:
        return render(request, "donations/none.html", campaigns=past, day=day, last_day=last_day)
    return await _campaign_page(request, ctx, campaign)


@router.get("/donate/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: Id, ctx: Ctx) -> HTMLResponse:
    try:
        async with ctx.db() as session:
            campaign = await services.get_campaign(session, campaign_id)
    except NotFound:
        raise HTTPException(404) from None
    return await _campaign_page(request, ctx, campaign)


# The admin page


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _day(text: str, what: str) -> datetime:
    try:
        when = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time(), UTC)
    except ValueError:
        raise DonationError(f"The {what} is a date, like 2025-01-31.") from None
    try:  # checked before the form adds a day to an end date: 9999-12-31 would overflow
        return check_time(when, what)
    except OutOfRange as exc:
        raise DonationError(str(exc)) from None


def _costs_text(campaign: Campaign) -> str:
    return "\n".join(
        f"{c.label}: {plain_amount(c.amount_minor, campaign.currency)}" for c in campaign.costs
    )


def _campaign_form(campaign: Campaign | None = None) -> dict[str, str]:
    if campaign is None:
        return {"title": "", "description": "", "currency": "EUR", "period": "monthly",
                "goal": "", "costs": "", "starts": utcnow().date().isoformat(), "ends": ""}
    ends = campaign.ends_at - timedelta(days=1) if campaign.ends_at is not None else None
    return {
        "title": campaign.title,
        "description": campaign.description,
        "currency": campaign.currency,
        "period": campaign.period.value,
        "goal": plain_amount(campaign.goal_minor, campaign.currency) if campaign.goal_minor else "",
        "costs": _costs_text(campaign),
        "starts": campaign.starts_at.date().isoformat(),
        "ends": ends.date().isoformat() if ends is not None else "",
    }


def _draft(typed: dict[str, str]) -> CampaignDraft:
    if typed["period"] not in (Period.ONE_OFF.value, Period.MONTHLY.value):
        raise DonationError("A campaign is one-off or monthly.")
    ends = _day(typed["ends"], "end date") + timedelta(days=1) if typed["ends"].strip() else None
    return CampaignDraft(
        title=typed["title"],
        description=typed["description"],
        currency=typed["currency"].strip().upper(),
        period=Period(typed["period"]),
        goal=typed["goal"],
        costs=typed["costs"],
        starts_at=_day(typed["starts"], "start date"),
        ends_at=ends,
    )


async def _admin_page(
    request: Request,
    ctx: SiteContext,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    campaign_form: dict[str, str] | None = None,
    entry_form: dict[str, str] | None = None,
) -> HTMLResponse:
    now = utcnow()
    async with ctx.db() as session:
        all_campaigns = await services.campaigns(session)
        figures = {c.id: await services.progress(session, c, now) for c in all_campaigns}
        current = await services.current_campaign(session, now)
        rows = await services.ledger(session, limit=LEDGER_SHOWN)
        pending = await services.pending_messages(session)
    default_campaign = current or (all_campaigns[0] if all_campaigns else None)
    return render(
        request,
        "donations/admin.html",
        status_code=status_code,
        campaigns=all_campaigns,
        figures=figures,
        rows=rows,
        shown=LEDGER_SHOWN,
        pending=pending,
        errors=errors or {},
        done=DONE.get(request.query_params.get("done") or ""),
        campaign_form=campaign_form or _campaign_form(),
        entry_form=entry_form or {
            "campaign": str(default_campaign.id) if default_campaign else "",
            "amount": "", "currency": default_campaign.currency if default_campaign else "EUR",
            "date": now.date().isoformat(), "donor_name": "", "show_name": "",
            "message": "", "method": "bank transfer", "reference": "",
        },
        currencies=sorted(CURRENCIES),
        cap=ctx.settings.donations_max_amount,
        day=day,
        last_day=last_day,
    )


def _done(what: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/donations?done={what}#{anchor}", status_code=303)


@router.get("/admin/donations", response_class=HTMLResponse)
async def admin(request: Request, ctx: Ctx, user: Admin) -> HTMLResponse:
    return await _admin_page(request, ctx)


_CAMPAIGN_FIELDS: Final = ("title", "description", "currency", "period", "goal", "costs",
                           "starts", "ends")


@router.post("/admin/donations/campaigns", dependencies=CSRF)
async def add_campaign(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in _CAMPAIGN_FIELDS}
    try:
        async with transaction(ctx.db) as session:
            await services.save_campaign(session, _draft(typed), by=user,
                                         cap=ctx.settings.donations_max_amount)
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except DonationError as exc:
        return await _admin_page(request, ctx, status_code=400, errors={"campaign": str(exc)},
                                 campaign_form=typed)
    return _done("campaign", "campaigns")


def _edit_page(request: Request, campaign_id: int, typed: dict[str, str], *,
               error: str | None = None) -> HTMLResponse:
    return render(request, "donations/edit.html", status_code=400 if error else 200,
                  campaign_id=campaign_id, form=typed, error=error, currencies=sorted(CURRENCIES))


@router.get("/admin/donations/campaigns/{campaign_id}", response_class=HTMLResponse)
async def edit_campaign_page(request: Request, campaign_id: Id, ctx: Ctx, user: Admin) -> HTMLResponse:
    try:
        async with ctx.db() as session:
            campaign = await services.get_campaign(session, campaign_id)
    except NotFound:
        raise HTTPException(404) from None
    return _edit_page(request, campaign_id, _campaign_form(campaign))


@router.post("/admin/donations/campaigns/{campaign_id}", dependencies=CSRF)
async def edit_campaign(request: Request, campaign_id: Id, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in _CAMPAIGN_FIELDS}
    try:
        async with transaction(ctx.db) as session:
            await services.save_campaign(session, _draft(typed), by=user, campaign_id=campaign_id,
                                         cap=ctx.settings.donations_max_amount)
    except NotFound:
        raise HTTPException(404) from None
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except DonationError as exc:
        return _edit_page(request, campaign_id, typed, error=str(exc))
    return _done("campaign", "campaigns")


_ENTRY_FIELDS: Final = ("campaign", "amount", "currency", "date", "donor_name", "show_name",
                        "message", "method", "reference")


@router.post("/admin/donations/entries", dependencies=CSRF)
async def add_entry(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in _ENTRY_FIELDS}
    try:
        if not typed["campaign"].isdigit():
            raise DonationError("Choose the campaign the donation is for.")
        entry = Entry(
            campaign_id=int(typed["campaign"]),
            amount=typed["amount"],
            currency=typed["currency"].strip().upper(),
            received_at=_day(typed["date"], "date received"),
            donor_name=typed["donor_name"],
            show_name=typed["show_name"] == "yes",
            message=typed["message"],
            method=typed["method"],
            reference=typed["reference"],
        )
        async with transaction(ctx.db) as session:
            await services.record(session, entry, by=user, cap=ctx.settings.donations_max_amount)
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except DonationError as exc:
        return await _admin_page(request, ctx, status_code=400, errors={"entry": str(exc)},
                                 entry_form=typed)
    return _done("entry", "ledger")


@router.post("/admin/donations/entries/{entry_id}/refund", dependencies=CSRF)
async def refund(request: Request, entry_id: Id, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    try:
        async with transaction(ctx.db) as session:
            await services.refund(
                session, entry_id, amount=_text(form, "amount"), reference=_text(form, "reference"),
                by=user, cap=ctx.settings.donations_max_amount,
            )
    except NotFound:
        raise HTTPException(404) from None
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except DonationError as exc:
        return await _admin_page(request, ctx, status_code=400,
                                 errors={"ledger": f"Entry {entry_id}: {exc}"})
    return _done("refund", "ledger")


@router.post("/admin/donations/entries/{entry_id}/message", dependencies=CSRF)
async def moderate(request: Request, entry_id: Id, ctx: Ctx, user: Admin) -> Response:
    decision = _text(await request.form(), "decision")
    if decision not in ("approve", "reject"):
        raise HTTPException(400, "A message is approved or rejected.")
    try:
        async with transaction(ctx.db) as session:
            await services.moderate(session, entry_id, approve=decision == "approve", by=user)
    except NotFound:
        raise HTTPException(404) from None
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    return _done("approved" if decision == "approve" else "rejected", "messages")


@router.post("/admin/donations/donors", dependencies=CSRF)
async def mark_donor(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    name, donor = _text(form, "account"), _text(form, "donor") == "yes"
    try:
        async with transaction(ctx.db) as session:
            await services.mark_donor(session, name, donor=donor, by=user)
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except NotFound as exc:
        return await _admin_page(request, ctx, status_code=400, errors={"donors": str(exc)})
    return _done("donor", "donors")


@router.get("/admin/donations.csv")
async def export(ctx: Ctx, user: Admin) -> Response:
    async with ctx.db() as session:
        rows = await services.ledger(session)
    stamp = utcnow().strftime("%Y%m%d")
    return Response(
        ledger_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="donations-{stamp}.csv"',
            "Cache-Control": "no-store",  # donors' names: not for shared caches
        },
    )
