"""Profiles: what a user's public page shows, and the settings its owner changes.

Pages and the API both call these functions; they take the caller's session and never
commit.

What is public, and what never is:

- Public: the account name, the display name (the account name when none is set), the
  role, when the account was made, the bio, badges, the uploads *not* marked anonymous,
  how many comments the account has on the site.
- Never: the e-mail address (only its owner sees it, on the settings page), and anything
  that would tie an anonymous upload to its uploader. Upload lists and counts leave
  anonymous uploads out entirely, so not even "12 uploads, 10 listed" gives one away.

A display name is shown on the profile only, always beside the account name, so choosing
"admin" as one does not pass for the admin elsewhere: torrent pages and comments show the
account name.

A disabled account keeps its page (its torrents still link to it) without its bio: an
account is usually disabled for what it wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex import deceptive
from swarmdex.accounts.services import has_role
from swarmdex.comments.models import Comment
from swarmdex.db.models import DISPLAY_NAME_LENGTH, EMAIL_LENGTH, Role, Torrent, User

__all__ = [
    "BIO_MAX",
    "DISPLAY_NAME_MAX",
    "EMAIL_MAX",
    "Badge",
    "Profile",
    "ProfileError",
    "Settings",
    "badges",
    "clean_bio",
    "clean_display_name",
    "clean_email",
    "clean_settings",
    "comment_count",
    "profile",
    "shown_name",
    "update_settings",
    "upload_count",
]

DISPLAY_NAME_MAX: Final = DISPLAY_NAME_LENGTH
BIO_MAX: Final = 5_000
EMAIL_MAX: Final = EMAIL_LENGTH

# Control characters other than tab and newlines, as comments refuse them.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Light on purpose: one @, something on both sides, a dot in the domain, no spaces. Whether
# an address works is only known by writing to it, which the site does not do (yet).
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\Z")


class ProfileError(ValueError):
    """Profile settings that cannot be saved. `errors` maps each field at fault ("display_name",
    "bio", "email") to what is wrong with it, in words fit to show the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Badge:
    """A mark on a profile. `kind` is stable (API, CSS class); `label` is what it says;
    `title` explains it."""

    kind: str
    label: str
    title: str


_ROLE_BADGES: Final = {
    Role.TRUSTED: Badge("trusted", "Trusted uploader", "Uploads from this account are trusted."),
    Role.MODERATOR: Badge("moderator", "Moderator", "Looks after the site's torrents and comments."),
    Role.ADMIN: Badge("admin", "Admin", "Runs this site."),
}
DONOR_BADGE: Final = Badge("donor", "Donor", "Has helped pay for this site.")


@dataclass(frozen=True, slots=True)
class Settings:
    """What the owner may change, checked and cleaned (`clean_settings`)."""

    display_name: str
    bio: str
    email: str | None
    anonymous_by_default: bool
    show_donor_badge: bool


@dataclass(frozen=True, slots=True)
class Profile:
    """A user as their public page (and the API) shows them. No e-mail address, by design."""

    user_id: int
    name: str
    display_name: str  # never empty: the account name when none is set
    role: Role
    joined: datetime
    bio: str  # Markdown source, render with the sanitiser; "" for a disabled account
    badges: list[Badge]
    uploads: int  # public ones only
    comments: int
    disabled: bool


# --------------------------------------------------------------------------- reading


def shown_name(user: User) -> str:
    """The name a profile is headed with: the display name, else the account name."""
    return user.display_name or user.name


async def badges(session: AsyncSession, user: User) -> list[Badge]:
    """The badges `user`'s profile shows, role first.

    The hook for the donations feature: the donor badge shows when the account has
    opted in (`show_donor_badge`) and is known to have donated (`is_donor`, set by an admin
    or by the donations ledger). Should "has donated" come to be read from the ledger
    instead, it is read here, with `session`, and no caller changes.
    """
    found = []
    for role in reversed(Role):  # the highest role the account has: one badge, not three
        if role in _ROLE_BADGES and has_role(user, role):
            found.append(_ROLE_BADGES[role])
            break
    if user.show_donor_badge and user.is_donor:
        found.append(DONOR_BADGE)
    return found


async def upload_count(session: AsyncSession, user: User) -> int:
    """How many torrents on the site `user` uploaded under their name (anonymous ones are
    not counted: see the module's docstring)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Torrent)
        .where(
            Torrent.uploader_id == user.id,
            Torrent.anonymous.is_(False),
            Torrent.deleted_at.is_(None),
        )
    )
    return count or 0


async def comment_count(session: AsyncSession, user: User) -> int:
    """How many of `user`'s comments can be read on the site: not removed, under a torrent
    that is still there."""
    count = await session.scalar(
        select(func.count())
        .select_from(Comment)
        .join(Torrent, Comment.torrent_id == Torrent.id)
        .where(
            Comment.author_id == user.id,
            Comment.deleted_at.is_(None),
            Torrent.deleted_at.is_(None),
        )
    )
    return count or 0


async def profile(session: AsyncSession, user: User) -> Profile:
    """The public facts about `user` (from `accounts.services.user_by_name`)."""
    disabled = user.disabled_at is not None
    return Profile(
        user_id=user.id,
        name=user.name,
        display_name=shown_name(user),
        role=user.role,
        joined=user.created_at,
        bio="" if disabled else user.bio,
        badges=[] if disabled else await badges(session, user),
        uploads=await upload_count(session, user),
        comments=await comment_count(session, user),
        disabled=disabled,
    )


# --------------------------------------------------------------------------- settings


def clean_display_name(text: str) -> str:
    """The display name to store ("" for none), or ValueError saying what is wrong."""
    # Trimmed; any run of whitespace (tabs, newlines, U+2028...) becomes one space.
    name = " ".join(text.split())
    if len(name) > DISPLAY_NAME_MAX:
        raise ValueError(
            f"The display name is {len(name):,} characters long; at most {DISPLAY_NAME_MAX} fit."
        )
    if _CONTROL.search(name):
        raise ValueError("The display name contains control characters.")
    # Names that read differently from what they are ("gpj.exe" shown as "exe.jpg").
    if (found := deceptive.problem(name)) is not None:
        raise ValueError(f"The display name contains {found}.")
    return name


def clean_bio(text: str) -> str:
    """The bio to store (Markdown, line endings as \\n, blank edges trimmed), or ValueError."""
    bio = text.replace("\r\n", "\n").replace("\r", "\n").rstrip().lstrip("\n")
    if _CONTROL.search(bio):
        raise ValueError("The bio contains control characters.")
    if len(bio) > BIO_MAX:
        raise ValueError(f"The bio is {len(bio):,} characters long; at most {BIO_MAX:,} fit.")
    return bio


def clean_email(text: str) -> str | None:
    """The address to store (None for none), or ValueError."""
    email = text.strip()
    if not email:
        return None
    if len(email) > EMAIL_MAX:
        raise ValueError(f"An e-mail address has at most {EMAIL_MAX} characters.")
    if _CONTROL.search(email) or not _EMAIL.match(email):
        raise ValueError("That does not look like an e-mail address (name@example.org).")
    return email


def clean_settings(
    *,
    display_name: str,
    bio: str,
    email: str,
    anonymous_by_default: bool,
    show_donor_badge: bool,
) -> Settings:
    """The settings as the form sent them, checked; ProfileError lists every field at fault,
    so the form can say all that is wrong at once."""
    errors: dict[str, str] = {}
    cleaned: dict[str, str | None] = {}
    for field, clean, value in (
        ("display_name", clean_display_name, display_name),
        ("bio", clean_bio, bio),
        ("email", clean_email, email),
    ):
        try:
            cleaned[field] = clean(value)
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise ProfileError(errors)
    return Settings(
        display_name=cleaned["display_name"] or "",
        bio=cleaned["bio"] or "",
        email=cleaned["email"],
        anonymous_by_default=anonymous_by_default,
        show_donor_badge=show_donor_badge,
    )


async def update_settings(session: AsyncSession, user: User, settings: Settings) -> None:
    """Save `settings` as `user`'s (who may come from another session, as the logged-in
    viewer does). `is_donor` is not the owner's to set, and is not touched."""
    values = {
        "display_name": settings.display_name,
        "bio": settings.bio,
        "email": settings.email,
        "anonymous_by_default": settings.anonymous_by_default,
        "show_donor_badge": settings.show_donor_badge,
    }
    await session.execute(update(User).where(User.id == user.id).values(**values))
    for key, value in values.items():
        setattr(user, key, value)
