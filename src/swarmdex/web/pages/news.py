"""News: the list (/news), a post (/news/{id}-{slug}) with its comments, the staff's forms
(/news/new, /news/{id}/edit, delete), and the feed (/rss/news).

A post's address carries its title for readers (`/news/12-tracker-moved`); only the id
counts, and any other form of it (`/news/12`, an old title) redirects to the current one.
Comments work as under torrents, through the shared flow of `swarmdex.web.pages.comments`.
Unpublished posts (drafts, scheduled) are 404 to everyone but staff, and absent from the
list, the home page and the feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.comments.services import CommentError, NotAllowed, NotFound, clean_body
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.markup import render_markdown
from swarmdex.news import services
from swarmdex.news.models import NewsPost
from swarmdex.news.services import PostForm
from swarmdex.web.auth import Viewer, require_role
from swarmdex.web.bans import Member
from swarmdex.web.context import Ctx
from swarmdex.web.ids import ID_MAX, RowId
from swarmdex.web.pages import comments
from swarmdex.web.pages.comments import Place
from swarmdex.web.pages.feeds import FEED_ITEMS, rss, xml_text
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

__all__ = ["post_path", "router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
# "12" or "12-any-slug": the id decides, the rest is for people.
_REF: Final = re.compile(r"([1-9][0-9]{0,18})(?:-[a-z0-9-]*)?")
_FORM_TIME: Final = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, in UTC


def post_path(post: NewsPost) -> str:
    name = services.slug(post.title)
    return f"/news/{post.id}-{name}" if name else f"/news/{post.id}"


def _post_id(ref: str) -> int:
    match = _REF.fullmatch(ref)
    if match is None or int(match.group(1)) > ID_MAX:
        raise HTTPException(404)
    return int(match.group(1))


def _place(post: NewsPost) -> Place:
    return Place(post.title, post_path(post), services.is_public(post))


# Reading


@router.get("/news", response_class=HTMLResponse)
async def news_list(
    request: Request, ctx: Ctx, viewer: Viewer, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    staff = services.is_staff(viewer)
    async with ctx.db() as session:
        found = await services.listing(session, page=page, everything=staff)
    return render(request, "news/list.html", found=found, staff=staff, now=utcnow(),
                  post_path=post_path, excerpt=services.excerpt, is_public=services.is_public)


@router.get("/news/new", response_class=HTMLResponse)
async def new_page(request: Request, user: Staff) -> Response:
    form = {"title": "", "body": "", "publish_at": "", "draft": False}
    return _form_page(request, form=form, action="/news/new", post=None)


@router.get("/news/{ref}", response_class=HTMLResponse)
async def post_page(request: Request, ref: str, ctx: Ctx, viewer: Viewer) -> Response:
    async with ctx.db() as session:
        post = await services.get(session, _post_id(ref))
        if post is None or not services.visible_to(post, viewer):
            raise HTTPException(404)
        thread = await services.comments_of(session, post.id)
    path = post_path(post)
    if request.url.path != path:
        return RedirectResponse(path, status_code=301)
    return render(request, "news/post.html", post=post, comments=thread, path=path,
                  staff=services.is_staff(viewer), public=services.is_public(post))


@dataclass(frozen=True, slots=True)
class _FeedItem:
    """What feeds/news.xml shows of a post."""

    title: str
    link: str
    published: str  # RFC 822
    description: str  # the post as sanitised HTML


@router.get("/rss/news")
async def feed(request: Request, ctx: Ctx) -> Response:
    async with ctx.db() as session:
        posts = await services.latest(session, FEED_ITEMS)
    base = ctx.base_url.rstrip("/")
    items = [
        _FeedItem(
            title=xml_text(post.title),
            link=base + post_path(post),
            published=format_datetime(post.publish_at.astimezone(UTC), usegmt=True),
            description=xml_text(render_markdown(post.body)),  # HTML, escaped by the template
        )
        for post in posts
    ]
    site = ctx.settings.site_name
    return rss(request, ctx, title=f"News · {site}", page="/news",
               description=f"News from {site}", items=items, template="feeds/news.xml")


# Writing (staff)


def _form_page(
    request: Request,
    *,
    form: dict[str, Any],
    action: str,
    post: NewsPost | None,
    error: str | None = None,
) -> HTMLResponse:
    return render(request, "news/form.html", status_code=400 if error else 200, form=form,
                  action=action, post=post, error=error, title_max=services.TITLE_MAX,
                  body_max=services.BODY_MAX)


async def _posted(request: Request) -> dict[str, Any]:
    data = await request.form()
    form: dict[str, Any] = {
        name: value if isinstance(value := data.get(name), str) else ""
        for name in ("title", "body", "publish_at")
    }
    form["draft"] = data.get("draft") == "1"
    return form


def _post_form(form: dict[str, Any]) -> PostForm:
    return PostForm(form["title"], form["body"], form["draft"],
                    services.parse_publish_at(form["publish_at"]))


@router.post("/news/new", dependencies=CSRF)
async def create(request: Request, ctx: Ctx, user: Staff) -> Response:
    form = await _posted(request)
    try:
        async with transaction(ctx.db) as session:
            post = await services.write(session, author=user, form=_post_form(form))
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except CommentError as exc:
        return _form_page(request, form=form, action="/news/new", post=None, error=str(exc))
    return RedirectResponse(post_path(post), status_code=303)


async def _staff_post(session: AsyncSession, post_id: int) -> NewsPost:
    post = await services.get(session, post_id)
    if post is None:
        raise HTTPException(404)
    return post


@router.get("/news/{post_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, post_id: RowId, ctx: Ctx, user: Staff) -> Response:
    async with ctx.db() as session:
        post = await _staff_post(session, post_id)
    form = {"title": post.title, "body": post.body, "draft": post.draft,
            "publish_at": post.publish_at.astimezone(UTC).strftime(_FORM_TIME)}
    return _form_page(request, form=form, action=f"/news/{post_id}/edit", post=post)


@router.post("/news/{post_id}/edit", dependencies=CSRF)
async def edit(request: Request, post_id: RowId, ctx: Ctx, user: Staff) -> Response:
    form = await _posted(request)
    try:
        async with transaction(ctx.db) as session:
            post = await services.update(session, post_id, editor=user, form=_post_form(form))
    except NotFound:
        raise HTTPException(404) from None
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except CommentError as exc:
        async with ctx.db() as session:
            post = await _staff_post(session, post_id)
        return _form_page(request, form=form, action=f"/news/{post_id}/edit", post=post,
                          error=str(exc))
    return RedirectResponse(post_path(post), status_code=303)


@router.post("/news/{post_id}/delete", dependencies=CSRF)
async def delete(post_id: RowId, ctx: Ctx, user: Staff) -> Response:
    try:
        async with transaction(ctx.db) as session:
            await services.delete(session, post_id, by=user)
    except NotFound:
        raise HTTPException(404) from None
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    return RedirectResponse("/news", status_code=303)


# Comments (members), by the flow torrent comments use


@router.post("/news/{ref}/comments", dependencies=[writes("Comments"), *CSRF])
async def add_comment(request: Request, ref: str, ctx: Ctx, user: Member) -> Response:
    post_id = _post_id(ref)

    async def locate(session: AsyncSession) -> tuple[Place, NewsPost]:
        post = await services.get(session, post_id)
        if post is None or not services.is_public(post):
            raise NotFound("There is no such news post.")
        return _place(post), post

    async def write(session: AsyncSession, post: NewsPost, body: str) -> int:
        text = clean_body(body)
        await comments.throttle(request, user)
        return (await services.add_comment(session, post=post, author=user, body=text)).id

    return await comments.save(request, ctx, locate=locate, write=write)


async def _comment_place(session: AsyncSession, comment_id: int) -> tuple[Place, int]:
    comment = await services.get_comment(session, comment_id)
    if comment is None:
        raise NotFound("There is no such comment.")
    return _place(comment.post), comment_id


@router.get("/news/comments/{comment_id}/edit", response_class=HTMLResponse,
            dependencies=[writes("Comments")])
async def edit_comment_page(
    request: Request, comment_id: RowId, ctx: Ctx, user: Member
) -> Response:
    async with ctx.db() as session:
        comment = await services.get_comment(session, comment_id)
    found = (comment, _place(comment.post)) if comment is not None else None
    return comments.edit_form(request, user, found, f"/news/comments/{comment_id}/edit")


@router.post("/news/comments/{comment_id}/edit", dependencies=[writes("Comments"), *CSRF])
async def edit_comment(
    request: Request, comment_id: RowId, ctx: Ctx, user: Member
) -> Response:
    async def write(session: AsyncSession, _: int, body: str) -> int:
        await services.edit_comment(session, comment_id, editor=user, body=body)
        return comment_id

    return await comments.save(
        request, ctx, locate=lambda session: _comment_place(session, comment_id), write=write,
        edit_action=f"/news/comments/{comment_id}/edit",
    )


@router.post("/news/comments/{comment_id}/delete", dependencies=CSRF)
async def delete_comment(comment_id: RowId, ctx: Ctx, user: Member) -> Response:
    try:
        async with transaction(ctx.db) as session:
            comment = await services.delete_comment(session, comment_id, by=user)
            place = _place(comment.post)
    except CommentError as exc:
        raise comments.refused(exc) from None
    return comments.after_removal(place, comment_id)
