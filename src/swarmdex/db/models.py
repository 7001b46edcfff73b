"""The index's tables, as typed SQLAlchemy models.

Rules that hold for every table:

- Constraint and index names come from `NAMING_CONVENTION`, so a migration can name what it
  alters on SQLite and PostgreSQL alike.
- Timestamps are timezone-aware UTC (`UTCDateTime`); naive datetimes are refused.
- Secrets are never stored: API tokens and login sessions keep only a SHA-256 digest of
  the value the user holds (`secret_digest`).
- A torrent's info dictionary is kept as the exact bytes it was hashed from.

Every change here needs a migration in `migrations/versions/`; a test compares the two.
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    func,
    text,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    mapped_column,
    relationship,
    validates,
)

__all__ = [
    "IDS_NEVER_REUSED",
    "NAMING_CONVENTION",
    "PASSKEY_LENGTH",
    "ROW_ID_MAX",
    "ApiToken",
    "Base",
    "Category",
    "LoginSession",
    "Role",
    "Tag",
    "Torrent",
    "TorrentFile",
    "UTCDateTime",
    "User",
    "fold_name",
    "secret_digest",
    "swarm_key",
    "torrent_tags",
    "utcnow",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

V1_HASH_LENGTH: Final = 20
V2_HASH_LENGTH: Final = 32
SWARM_KEY_LENGTH: Final = 20
DIGEST_LENGTH: Final = 32  # SHA-256, for token and login session secrets
NAME_LENGTH: Final = 64
DISPLAY_NAME_LENGTH: Final = 64
EMAIL_LENGTH: Final = 254  # RFC 5321's longest forward path, less its brackets


def utcnow() -> datetime:
    return datetime.now(UTC)


def fold_name(name: str) -> str:
    """The form of a user (or tag) name that uniqueness is checked on.

    Unicode caseless matching (NFKC, case folding, NFKC again): "Alice", "ALICE" and
    "Alice" in full-width letters are one name; so are "Straße" and "STRASSE".
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def secret_digest(secret: str | bytes) -> bytes:
    """What is stored for an API token or a login session cookie: its SHA-256.

    The secrets are long random values, so a fast hash is enough; a copy of the database
    is then no way into anyone's account.
    """
    return hashlib.sha256(secret.encode() if isinstance(secret, str) else secret).digest()


def swarm_key(info_hash_v1: bytes | None, info_hash_v2: bytes | None) -> bytes:
    """The 20 bytes that name a torrent's main swarm: the v1 hash, else the v2 hash cut to 20."""
    if info_hash_v1 is not None:
        return info_hash_v1
    if info_hash_v2 is not None:
        return info_hash_v2[:SWARM_KEY_LENGTH]
    raise ValueError("a torrent has a v1 hash, a v2 hash, or both")


# `__table_args__` (or its last item) of every table with a numeric id: on SQLite, ids come
# from AUTOINCREMENT's counter and are never handed out again after the newest row is deleted.
# Audit entries, reports and notices name rows by id; a reused id would give a new account,
# torrent or comment the history of a deleted one. (PostgreSQL's sequences never reuse ids.)
IDS_NEVER_REUSED: Final = {"sqlite_autoincrement": True}
# A passkey or RSS key: 32 hexadecimal digits, 128 random bits.
PASSKEY_LENGTH: Final = 32
# The largest row id on every database: id columns are `Integer`, PostgreSQL's signed 32-bit
# `integer` (SQLite's hold 64 bits). A larger number names no row; comparing a column with it
# would be an error on PostgreSQL, so input is checked against this first.
ROW_ID_MAX: Final = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC (SQLite keeps the text of the UTC time, which sorts)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: swarmdex stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Role(enum.StrEnum):
    """What an account may do, each role including the ones before it."""

    USER = "user"
    TRUSTED = "trusted"  # uploads are marked as from a trusted uploader
    MODERATOR = "moderator"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # `fold_name(name)`, kept in step by `_keep_name_key`: uniqueness ignores case and width.
    name_key: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            length=16,
            create_constraint=True,
            validate_strings=True,
            values_callable=lambda roles: [role.value for role in roles],
        ),
        default=Role.USER,
        server_default=Role.USER.value,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    # The profile (migration 0007_profiles; rules in swarmdex.profiles.services).
    display_name: Mapped[str] = mapped_column(
        String(DISPLAY_NAME_LENGTH), default="", server_default=""
    )  # "" shows the account name
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")  # Markdown
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))  # never shown publicly
    anonymous_by_default: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )  # the upload form's "anonymous" box starts checked
    show_donor_badge: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set by an admin or the donations ledger; shown only with `show_donor_badge`.
    is_donor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Private mode (migration 0015_private; swarmdex.private.passkeys): the secret in the
    # member's announce URLs, and the key of their personal RSS feeds. Made when first
    # needed, so a public site never makes any.
    passkey: Mapped[str | None] = mapped_column(String(PASSKEY_LENGTH), index=True, unique=True)
    rss_key: Mapped[str | None] = mapped_column(String(PASSKEY_LENGTH), index=True, unique=True)

    @validates("name")
    def _keep_name_key(self, _attribute: str, value: str) -> str:
        self.name_key = fold_name(value)
        return value

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, name={self.name!r}, role={self.role!r})"


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    def __repr__(self) -> str:
        return f"Category(id={self.id!r}, slug={self.slug!r})"


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)

    def __repr__(self) -> str:
        return f"Tag(id={self.id!r}, name={self.name!r})"


torrent_tags = Table(
    "torrent_tags",
    Base.metadata,
    Column("torrent_id", ForeignKey("torrents.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "tags of a torrent"; this serves "torrents with a tag".
    Index("ix_torrent_tags_tag_id", "tag_id"),
)


class Torrent(Base):
    """One uploaded torrent. Deleting a torrent's row deletes its files and tags with it;
    the site normally only sets `deleted_at`."""

    __tablename__ = "torrents"
    __table_args__ = (
        CheckConstraint(
            "info_hash_v1 IS NOT NULL OR info_hash_v2 IS NOT NULL", name="has_info_hash"
        ),
        CheckConstraint(
            f"info_hash_v1 IS NULL OR length(info_hash_v1) = {V1_HASH_LENGTH}",
            name="info_hash_v1_length",
        ),
        CheckConstraint(
            f"info_hash_v2 IS NULL OR length(info_hash_v2) = {V2_HASH_LENGTH}",
            name="info_hash_v2_length",
        ),
        CheckConstraint(f"length(swarm_key) = {SWARM_KEY_LENGTH}", name="swarm_key_length"),
        # Browse pages: newest first, overall, per category, per uploader; and by size.
        Index("ix_torrents_category_id_created_at", "category_id", "created_at"),
        Index("ix_torrents_uploader_id_created_at", "uploader_id", "created_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    info_hash_v1: Mapped[bytes | None] = mapped_column(LargeBinary(V1_HASH_LENGTH), unique=True)
    info_hash_v2: Mapped[bytes | None] = mapped_column(LargeBinary(V2_HASH_LENGTH), unique=True)
    # What the tracker keys the main swarm by; see `swarm_key()`.
    swarm_key: Mapped[bytes] = mapped_column(LargeBinary(SWARM_KEY_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(255))  # shown on the site, editable
    name: Mapped[str] = mapped_column(Text)  # the info dictionary's name, as the client sees it
    description: Mapped[str] = mapped_column(Text, default="", server_default="")  # Markdown
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    file_count: Mapped[int] = mapped_column(Integer)
    piece_length: Mapped[int] = mapped_column(Integer)
    # The bencoded info dictionary exactly as uploaded: the info hashes are its digests.
    info_dict: Mapped[bytes] = mapped_column(LargeBinary)
    # Its length, computed by the database: lists of torrents leave the info dictionary (up to
    # megabytes) unloaded and still know the size of the .torrent they link to.
    info_size: Mapped[int] = column_property(func.length(info_dict))
    # The announce tiers of the uploaded file, e.g. [["udp://a/announce"], ["http://b/"]].
    original_trackers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    deleted_at: Mapped[datetime | None]

    category: Mapped[Category] = relationship(lazy="raise_on_sql")
    uploader: Mapped[User | None] = relationship(lazy="raise_on_sql")
    files: Mapped[list[TorrentFile]] = relationship(
        back_populates="torrent",
        order_by="TorrentFile.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary=torrent_tags, passive_deletes=True, lazy="raise_on_sql"
    )

    def __repr__(self) -> str:
        return f"Torrent(id={self.id!r}, swarm_key={self.swarm_key.hex()!r}, title={self.title!r})"


class TorrentFile(Base):
    """One file of a torrent, in the order of the torrent's file list."""

    __tablename__ = "torrent_files"

    torrent_id: Mapped[int] = mapped_column(
        ForeignKey("torrents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    path: Mapped[str] = mapped_column(Text)  # "/"-separated, below the torrent's name
    size: Mapped[int] = mapped_column(BigInteger)

    torrent: Mapped[Torrent] = relationship(back_populates="files", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"TorrentFile(torrent_id={self.torrent_id!r}, path={self.path!r})"


class ApiToken(Base):
    """A token for the JSON API. `token_hash` is `secret_digest(token)`; the token itself is
    shown to its owner once and never stored."""

    __tablename__ = "api_tokens"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(DIGEST_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id!r}, user_id={self.user_id!r}, name={self.name!r})"


class LoginSession(Base):
    """A signed-in browser. `id` is `secret_digest(cookie value)`: the random value lives
    only in the browser's cookie."""

    __tablename__ = "sessions"

    id: Mapped[bytes] = mapped_column(LargeBinary(DIGEST_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"LoginSession(user_id={self.user_id!r}, expires_at={self.expires_at!r})"
