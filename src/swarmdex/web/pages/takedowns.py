"""Notice-and-takedown pages: the public notice form, the staff review queue, counter-notices
and the transparency report.

Decisions are for moderators and admins (the same people who may delete any torrent). Once
a decision has committed the tracker knows of it (the services tell it through its port): a
takedown is refused in every mode, a restore served again.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.takedowns import services
from swarmdex.takedowns.models import CounterNotice, Notice, TakedownItem
from swarmdex.takedowns.receipts import receipt_path, valid_receipt_key
from swarmdex.torrents.services import parse_hash
from swarmdex.web.auth import CurrentUser, require_role
from swarmdex.web.context import Ctx
from swarmdex.web.ids import RowId
from swarmdex.web.ratelimit import Rate, attempt, too_many_attempts
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
CSRF = [Depends(require_csrf)]
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
# Notices per client address (kept in memory only, never stored): a real claimant sends a
# few; a flood is someone trying to fill the queue.
NOTICE_RATE: Final = Rate(5, 3600)


# --------------------------------------------------------------------------- the public form


def _notice_values(form: dict[str, str]) -> services.NoticeForm:
    return services.NoticeForm(
        claimant_name=form.get("claimant_name", ""),
        organisation=form.get("organisation", ""),
        email=form.get("email", ""),
        work=form.get("work", ""),
        torrents=form.get("torrents", ""),
        good_faith=form.get("good_faith") == "1",
        accurate=form.get("accurate") == "1",
        signature=form.get("signature", ""),
    )


async def _text_form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {key: value for key, value in data.items() if isinstance(value, str)}


@router.get("/notice", response_class=HTMLResponse)
async def notice_form(request: Request, t: str = "") -> HTMLResponse:
    # ?t=HASH: the torrent page's "legal notice" link fills in the torrent.
    values = {"torrents": f"/t/{t}"} if parse_hash(t) else {}
    return render(request, "takedowns/notice_form.html", values=values, errors={})


@router.post("/notice", response_class=HTMLResponse, dependencies=CSRF)
async def file_notice(request: Request, ctx: Ctx) -> Response:
    wait = await attempt(request, "takedown-notice", NOTICE_RATE)
    if wait:
        return too_many_attempts(request, wait)
    values = await _text_form(request)
    try:
        async with transaction(ctx.db) as session:
            notice = await services.file_notice(session, _notice_values(values))
    except services.NoticeError as exc:
        return render(request, "takedowns/notice_form.html", status_code=422, values=values,
                      errors=exc.errors)
    return RedirectResponse(receipt_path(ctx.secret, notice.id), status_code=303)


@router.get("/notice/{notice_id}/received/{key}", response_class=HTMLResponse)
async def received(request: Request, notice_id: RowId, key: str, ctx: Ctx) -> HTMLResponse:
    # The key before the query: a wrong one learns nothing, not even whether the number exists.
    if not valid_receipt_key(ctx.secret, notice_id, key):
        raise HTTPException(404)
    async with ctx.db() as session:
        notice = await services.notice(session, notice_id)
    if notice is None:
        raise HTTPException(404)
    # Only the number, the date and the torrents' titles, for the sender (see receipts).
    return render(request, "takedowns/received.html", notice=notice)


# --------------------------------------------------------------------------- the queue


@router.get("/takedowns", response_class=HTMLResponse)
async def queue(request: Request, ctx: Ctx, user: Staff) -> HTMLResponse:
    async with ctx.db() as session:
        notices, counters = await services.pending(session)
    return render(request, "takedowns/queue.html", notices=notices, counters=counters)


async def _notice(session: AsyncSession, notice_id: int) -> Notice:
    notice = await services.notice(session, notice_id)
    if notice is None:
        raise HTTPException(404)
    return notice


@router.get("/takedowns/{notice_id}", response_class=HTMLResponse)
async def notice_page(request: Request, notice_id: RowId, ctx: Ctx, user: Staff,
                      error: str | None = None) -> HTMLResponse:
    async with ctx.db() as session:
        notice = await _notice(session, notice_id)
        counters = await services.counter_notices(session, notice_id)
    return render(request, "takedowns/notice.html", notice=notice, counters=counters, error=error)


async def _note(request: Request) -> str:
    return (await _text_form(request)).get("note", "")


@router.post("/takedowns/{notice_id}/accept", dependencies=CSRF)
async def accept(request: Request, notice_id: RowId, ctx: Ctx, user: Staff) -> Response:
    note = await _note(request)
    try:
        async with transaction(ctx.db) as session:
            await services.accept(session, await _notice(session, notice_id), by=user, note=note)
    except services.DecisionError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/takedowns/{notice_id}", status_code=303)


@router.post("/takedowns/{notice_id}/reject", dependencies=CSRF)
async def reject(request: Request, notice_id: RowId, ctx: Ctx, user: Staff) -> Response:
    note = await _note(request)
    try:
        async with transaction(ctx.db) as session:
            await services.reject(session, await _notice(session, notice_id), by=user, note=note)
    except services.DecisionError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/takedowns/{notice_id}", status_code=303)


async def _counter(session: AsyncSession, counter_id: int) -> CounterNotice:
    counter = await services.counter_notice(session, counter_id)
    if counter is None:
        raise HTTPException(404)
    return counter


@router.post("/takedowns/counter/{counter_id}/restore", dependencies=CSRF)
async def restore(request: Request, counter_id: RowId, ctx: Ctx, user: Staff) -> Response:
    note = await _note(request)
    try:
        async with transaction(ctx.db) as session:
            counter = await _counter(session, counter_id)
            await services.restore(session, counter, by=user, note=note)
    except services.DecisionError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/takedowns/{counter.notice_id}", status_code=303)


@router.post("/takedowns/counter/{counter_id}/uphold", dependencies=CSRF)
async def uphold(request: Request, counter_id: RowId, ctx: Ctx, user: Staff) -> Response:
    note = await _note(request)
    try:
        async with transaction(ctx.db) as session:
            counter = await _counter(session, counter_id)
            await services.uphold(session, counter, by=user, note=note)
    except services.DecisionError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/takedowns/{counter.notice_id}", status_code=303)


# --------------------------------------------------------------------------- counter-notices


async def _disputable(session: AsyncSession, notice_id: int, user: User) -> tuple[Notice, list[TakedownItem]]:
    notice = await _notice(session, notice_id)
    items = await services.disputable(session, notice, user)
    if not items:
        raise HTTPException(403, "Only the uploader of a torrent this notice took down can dispute it.")
    return notice, items


@router.get("/takedowns/{notice_id}/counter", response_class=HTMLResponse)
async def counter_form(request: Request, notice_id: RowId, ctx: Ctx, user: CurrentUser) -> HTMLResponse:
    async with ctx.db() as session:
        notice, items = await _disputable(session, notice_id, user)
    return render(request, "takedowns/counter_form.html", notice=notice, items=items,
                  values={}, errors={})


@router.post("/takedowns/{notice_id}/counter", response_class=HTMLResponse, dependencies=CSRF)
async def file_counter(request: Request, notice_id: RowId, ctx: Ctx, user: CurrentUser) -> Response:
    values = await _text_form(request)
    form = services.CounterForm(statement=values.get("statement", ""),
                                contact=values.get("contact", ""),
                                good_faith=values.get("good_faith") == "1",
                                signature=values.get("signature", ""))
    try:
        async with transaction(ctx.db) as session:
            notice, items = await _disputable(session, notice_id, user)
            await services.file_counter(session, notice, user, form)
    except services.NoticeError as exc:
        return render(request, "takedowns/counter_form.html", status_code=422, notice=notice,
                      items=items, values=values, errors=exc.errors)
    return RedirectResponse("/account?done=counter-notice", status_code=303)


# --------------------------------------------------------------------------- transparency


@router.get("/transparency", response_class=HTMLResponse)
async def transparency(request: Request, ctx: Ctx) -> HTMLResponse:
    async with ctx.db() as session:
        report = await services.transparency(session)
    return render(request, "takedowns/transparency.html", report=report)


@router.get("/transparency.json")
async def transparency_json(ctx: Ctx) -> JSONResponse:
    async with ctx.db() as session:
        report = await services.transparency(session)
    return JSONResponse(asdict(report))
