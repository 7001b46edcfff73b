"""A user's own data: everything stored about them, as JSON, and deleting their account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.accounts.passwords import verify_password
from swarmdex.accounts.services import AccountError
from swarmdex.audit import services as audit
from swarmdex.comments.models import Comment
from swarmdex.db.models import ApiToken, LoginSession, Torrent, User
from swarmdex.news.models import NewsComment
from swarmdex.private import passkeys
from swarmdex.private.models import MemberTorrent
from swarmdex.torrents import services as torrents

__all__ = ["EXPORT_FORMAT", "delete_account", "export"]

EXPORT_FORMAT = "swarmdex-account-export/1"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything stored about `user`, fit for `json.dumps`. Secrets (password hash, session
    and token digests) are left out: they identify nothing, and must not leak."""
    uploads = (await session.scalars(
        select(Torrent).where(Torrent.uploader_id == user.id).order_by(Torrent.id))).all()
    comments = (await session.scalars(
        select(Comment).where(Comment.author_id == user.id).order_by(Comment.id))).all()
    news_comments = (await session.scalars(
        select(NewsComment).where(NewsComment.author_id == user.id).order_by(NewsComment.id))).all()
    logins = (await session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id)
        .order_by(LoginSession.created_at))).all()
    tokens = (await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))).all()
    # Private mode: the tracker's figures per torrent (none on other sites).
    figures = (await session.execute(
        select(Torrent.swarm_key, Torrent.title, MemberTorrent)
        .join(Torrent, Torrent.id == MemberTorrent.torrent_id)
        .where(MemberTorrent.user_id == user.id).order_by(MemberTorrent.first_seen))).all()
    return {
        "format": EXPORT_FORMAT,
        "account": {
            "name": user.name,
            "role": user.role.value,
            "created_at": _when(user.created_at),
            "disabled_at": _when(user.disabled_at),
            "display_name": user.display_name,
            "bio": user.bio,
            "email": user.email,
            "anonymous_by_default": user.anonymous_by_default,
            "show_donor_badge": user.show_donor_badge,
            "is_donor": user.is_donor,
        },
        "torrents": [
            {
                "info_hash": torrents.info_hash(t),
                "title": t.title,
                "name": t.name,
                "description": t.description,
                "size": t.size,
                "anonymous": t.anonymous,
                "created_at": _when(t.created_at),
                "deleted_at": _when(t.deleted_at),
            }
            for t in uploads
        ],
        "comments": [
            {"torrent_id": c.torrent_id, "body": c.body, "created_at": _when(c.created_at),
             "edited_at": _when(c.edited_at), "deleted_at": _when(c.deleted_at)}
            for c in comments
        ],
        "news_comments": [
            {"post_id": c.post_id, "body": c.body, "created_at": _when(c.created_at),
             "edited_at": _when(c.edited_at), "deleted_at": _when(c.deleted_at)}
            for c in news_comments
        ],
        "sessions": [
            {"created_at": _when(s.created_at), "expires_at": _when(s.expires_at),
             "revoked_at": _when(s.revoked_at)}
            for s in logins
        ],
        "api_tokens": [
            {"label": t.name, "created_at": _when(t.created_at),
             "last_used_at": _when(t.last_used_at)}
            for t in tokens
        ],
        "torrent_figures": [
            {"info_hash": key.hex(), "title": title, "uploaded": f.uploaded,
             "downloaded": f.downloaded, "uploaded_reported": f.uploaded_raw,
             "downloaded_reported": f.downloaded_raw, "seeding_seconds": f.seeding_seconds,
             "completed_at": _when(f.completed_at), "seeder": f.seeder,
             "first_seen": _when(f.first_seen), "last_seen": _when(f.last_seen)}
            for key, title, f in figures
        ],
    }


async def delete_account(session: AsyncSession, user: User, password: str, *,
                         delete_torrents: bool) -> list[Torrent]:
    """Delete `user` after checking `password`. Their torrents stay, shown as anonymous, or
    are deleted (`delete_torrents`), and then the tracker stops serving them once this
    commits; returns the deleted ones. Their comments, sessions and tokens go with the
    account. Raises AccountError on a wrong password, changing nothing."""
    if not password or not await verify_password(user.password_hash, password):
        raise AccountError("That is not your password.", "password")
    uploads = list((await session.scalars(
        select(Torrent).where(Torrent.uploader_id == user.id))).all())
    withdrawn = []
    if delete_torrents:
        for torrent in uploads:
            if torrent.deleted_at is None:
                await torrents.delete(session, torrent, by=user)
                withdrawn.append(torrent)
    await session.execute(
        update(Torrent).where(Torrent.uploader_id == user.id).values(anonymous=True, uploader_id=None))
    await audit.record(session, None, "account.delete", "user", user.id,
                       after={"torrents": "deleted" if delete_torrents else "anonymous"})
    await session.execute(delete(User).where(User.id == user.id))
    await passkeys.tell_member(session, user.id)  # its passkey stops working with it
    return withdrawn
