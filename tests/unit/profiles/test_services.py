"""Profile rules on a real, migrated SQLite file: what is public, what is counted, what the
settings accept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from swarmdex.comments.models import Comment
from swarmdex.db import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.profiles import services
from swarmdex.profiles.services import BIO_MAX, DISPLAY_NAME_MAX, ProfileError

from .conftest import async_test, world


def settings(**changes: object) -> services.Settings:
    values: dict[str, object] = {
        "display_name": "", "bio": "", "email": "",
        "anonymous_by_default": False, "show_donor_badge": False,
    }
    return services.clean_settings(**(values | changes))  # type: ignore[arg-type]


# badges


@async_test
async def test_role_badges_one_per_account(url: str) -> None:
    async with world(url) as w, w.sessions() as session:
        kinds = {role: [b.kind for b in await services.badges(session, w.users[role])] for role in Role}
    assert kinds == {Role.USER: [], Role.TRUSTED: ["trusted"], Role.MODERATOR: ["moderator"],
                     Role.ADMIN: ["admin"]}


@pytest.mark.parametrize(("opted_in", "donated", "shown"), [
    (False, False, False), (True, False, False), (False, True, False), (True, True, True),
])
@async_test
async def test_donor_badge_needs_the_opt_in_and_a_donation(
    url: str, opted_in: bool, donated: bool, shown: bool
) -> None:
    async with world(url) as w, w.sessions() as session:
        user = w.users[Role.TRUSTED]
        user.show_donor_badge, user.is_donor = opted_in, donated
        kinds = [b.kind for b in await services.badges(session, user)]
    assert kinds == (["trusted", "donor"] if shown else ["trusted"])


# counts


@async_test
async def test_uploads_counted_without_anonymous_or_deleted_ones(url: str) -> None:
    async with world(url) as w:
        alice, bob = w.users[Role.USER], w.users[Role.TRUSTED]
        await w.torrent(alice)
        await w.torrent(alice)
        await w.torrent(alice, anonymous=True)
        await w.torrent(alice, deleted=True)
        await w.torrent(bob)
        async with w.sessions() as session:
            assert await services.upload_count(session, alice) == 2
            assert await services.upload_count(session, bob) == 1
            assert await services.upload_count(session, w.users[Role.ADMIN]) == 0


@async_test
async def test_comments_counted_when_readable(url: str) -> None:
    async with world(url) as w:
        alice = w.users[Role.USER]
        shown = await w.torrent(w.users[Role.ADMIN])
        gone = await w.torrent(w.users[Role.ADMIN], deleted=True)
        async with transaction(w.sessions) as session:
            session.add_all([
                Comment(torrent_id=shown.id, author_id=alice.id, body="one"),
                Comment(torrent_id=shown.id, author_id=alice.id, body="two"),
                Comment(torrent_id=shown.id, author_id=alice.id, body="", deleted_at=utcnow()),
                Comment(torrent_id=gone.id, author_id=alice.id, body="under a deleted torrent"),
                Comment(torrent_id=shown.id, author_id=w.users[Role.ADMIN].id, body="other"),
            ])
        async with w.sessions() as session:
            assert await services.comment_count(session, alice) == 2


@async_test
async def test_profile_has_no_address_and_falls_back_to_the_name(url: str) -> None:
    async with world(url) as w:
        user = w.users[Role.MODERATOR]
        async with transaction(w.sessions) as session:
            await services.update_settings(session, user, settings(email="m@example.org", bio="*hi*"))
        async with w.sessions() as session:
            shown = await services.profile(session, user)
    assert shown.display_name == "moderator" and shown.bio == "*hi*"
    assert not hasattr(shown, "email")
    assert "m@example.org" not in repr(shown)
    assert [b.kind for b in shown.badges] == ["moderator"]


@async_test
async def test_disabled_account_keeps_its_page_but_not_its_words(url: str) -> None:
    async with world(url) as w:
        user = w.users[Role.TRUSTED]
        async with transaction(w.sessions) as session:
            await services.update_settings(session, user, settings(bio="buy my stuff"))
            user.disabled_at = utcnow()
        async with w.sessions() as session:
            shown = await services.profile(session, user)
    assert shown.disabled and shown.bio == "" and shown.badges == []


# settings


def test_display_name_is_trimmed_and_limited() -> None:
    assert services.clean_display_name("  Ada \t Lovelace \n") == "Ada Lovelace"
    assert services.clean_display_name("") == ""
    assert services.clean_display_name("x" * DISPLAY_NAME_MAX) == "x" * DISPLAY_NAME_MAX
    with pytest.raises(ValueError, match="65 characters long; at most 64"):
        services.clean_display_name("x" * (DISPLAY_NAME_MAX + 1))


@pytest.mark.parametrize("name", ["a\x00b", "a\x1bb", "a\x7fb", "a\x9bb"])
def test_display_name_refuses_control_characters(name: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        services.clean_display_name(name)


@pytest.mark.parametrize("name", ["a\x85b", "a\u2028b", "a\r\nb", "a\x0bb"])
def test_display_name_line_breaks_become_spaces(name: str) -> None:
    assert services.clean_display_name(name) == "a b"


def test_display_name_refuses_direction_overrides_keeps_emoji() -> None:
    with pytest.raises(ValueError, match="direction"):
        services.clean_display_name("evil\u202egpj.exe")
    assert services.clean_display_name("👩‍💻 Ada") == "👩‍💻 Ada"  # a zero-width joiner inside


def test_bio_is_normalised_and_limited() -> None:
    assert services.clean_bio("\r\n\r\n    code\r\nmore  \r\n") == "    code\nmore"
    assert services.clean_bio("x\r\n" * (BIO_MAX // 2)).count("\n") == BIO_MAX // 2 - 1
    with pytest.raises(ValueError, match="5,001 characters long; at most 5,000"):
        services.clean_bio("x" * (BIO_MAX + 1))
    with pytest.raises(ValueError, match="control characters"):
        services.clean_bio("a\x07")


@pytest.mark.parametrize("email", ["a@example.org", " a.b+c@mail.example.co.uk ", "ü@exämple.de"])
def test_plausible_addresses_are_kept(email: str) -> None:
    assert services.clean_email(email) == email.strip()


@pytest.mark.parametrize("email", ["alice", "a@b", "a@@b.org", "a b@c.org", "@b.org", "a@b.org.",
                                   "a@.org", "a@b.org\x00", "a" * 250 + "@b.org"])
def test_implausible_addresses_are_refused(email: str) -> None:
    with pytest.raises(ValueError):
        services.clean_email(email)


def test_empty_address_is_none() -> None:
    assert services.clean_email("   ") is None


def test_every_field_at_fault_is_named() -> None:
    with pytest.raises(ProfileError) as caught:
        settings(display_name="x" * 100, bio="ok", email="nope")
    assert set(caught.value.errors) == {"display_name", "email"}
    assert "e-mail address" in caught.value.errors["email"]


@async_test
async def test_settings_are_saved_but_never_the_donor_flag(url: str) -> None:
    async with world(url) as w:
        user = w.users[Role.USER]
        chosen = settings(display_name=" Ada ", bio="Hello", email="ada@example.org",
                          anonymous_by_default=True, show_donor_badge=True)
        async with transaction(w.sessions) as session:
            await services.update_settings(session, user, chosen)
        assert user.display_name == "Ada"  # the object passed in is kept in step
        async with w.sessions() as session:
            stored = await session.scalar(select(User).where(User.id == user.id))
        assert stored is not None
        assert (stored.display_name, stored.bio, stored.email) == ("Ada", "Hello", "ada@example.org")
        assert stored.anonymous_by_default and stored.show_donor_badge and not stored.is_donor
        async with transaction(w.sessions) as session:
            await services.update_settings(session, user, settings())
        async with w.sessions() as session:
            stored = await session.scalar(select(User).where(User.id == user.id))
        assert stored is not None and stored.email is None and not stored.anonymous_by_default
