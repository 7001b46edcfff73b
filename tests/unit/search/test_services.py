"""Indexing and searching on a real, migrated SQLite database (FTS5)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text

from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent, utcnow
from swarmdex.search import fts5, postgres, services
from swarmdex.search.query import parse

from .factory import add_torrent, async_test, catalogue

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")


async def _titles(sessions: object, query: str, **options: object) -> list[str]:
    async with sessions() as session:  # type: ignore[operator]
        page = await services.search(session, query, **options)  # type: ignore[arg-type]
    assert page.error is None, page.error
    return [r.torrent.title for r in page.results]


@async_test
async def test_release_names_match_the_words_users_type(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Ubuntu.24.04.1-desktop_amd64")
            await add_torrent(session, "ubuntu-22.04-server-arm64")
            await add_torrent(session, "Debian 12 (bookworm) netinst")
        assert await _titles(sessions, "ubuntu 24.04 desktop") == ["Ubuntu.24.04.1-desktop_amd64"]
        assert await _titles(sessions, "ubuntu 24 04") == ["Ubuntu.24.04.1-desktop_amd64"]
        assert await _titles(sessions, "Ubuntu.24.04.1-desktop_amd64") == ["Ubuntu.24.04.1-desktop_amd64"]
        assert await _titles(sessions, "UBUNTU SERV") == ["ubuntu-22.04-server-arm64"]
        assert await _titles(sessions, "bookworm") == ["Debian 12 (bookworm) netinst"]
        assert await _titles(sessions, "24.10") == []


@async_test
async def test_phrases_prefixes_and_exclusions(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Fedora Server Install DVD")
            await add_torrent(session, "Fedora Install Server Guide")
            await add_torrent(session, "Fedora Workstation beta")
        assert await _titles(sessions, '"server install"') == ["Fedora Server Install DVD"]
        assert sorted(await _titles(sessions, "fedora -beta")) == [
            "Fedora Install Server Guide", "Fedora Server Install DVD",
        ]
        assert await _titles(sessions, 'fedora -"install server" -beta') == ["Fedora Server Install DVD"]
        assert await _titles(sessions, "work*") == ["Fedora Workstation beta"]
        assert await _titles(sessions, '"work"') == []


@async_test
async def test_file_names_only_when_asked(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Live image", files=["casper/vmlinuz", "casper/initrd.lz"])
        assert await _titles(sessions, "vmlinuz") == []
        assert await _titles(sessions, "vmlinuz", in_files=True) == ["Live image"]
        async with sessions() as session:
            page = await services.search(session, "initrd", in_files=True)
        assert str(page.results[0].file) == "casper/<mark>initrd</mark>.lz"
        assert page.results[0].title == "Live image"


@async_test
async def test_last_word_in_file_names_is_completed_only_if_unfinished(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Lullabies", files=["01-lullaby.flac"])
            await add_torrent(session, "Lullabies hi-res", files=["01-lullaby.flac24"])
            await add_torrent(session, "Flac24 lullabies")
        # "flac" is a word of the file index: taken as typed there, completed in names.
        assert await _titles(sessions, "lullaby flac", in_files=True) == ["Lullabies"]
        assert await _titles(sessions, "flac") == ["Flac24 lullabies"]
        # "fla" is no word of the index: still completed, in both.
        assert sorted(await _titles(sessions, "lullaby fla", in_files=True)) == [
            "Lullabies", "Lullabies hi-res"]
        # An explicit prefix is always one.
        assert sorted(await _titles(sessions, "lullaby flac*", in_files=True)) == [
            "Lullabies", "Lullabies hi-res"]


@async_test
async def test_tags_and_info_dictionary_names_are_searched(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Nice title", name="obscure-name.iso", tags=["gnome"])
        assert await _titles(sessions, "obscure") == ["Nice title"]
        assert await _titles(sessions, "gnome") == ["Nice title"]


@async_test
async def test_title_ranks_above_name_tags_and_files(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Collection A", files=["kernel/linux.tar"])
            await add_torrent(session, "Collection B", tags=["linux"])
            await add_torrent(session, "Linux from scratch")
            await add_torrent(session, "Collection C", files=["x/linux-a", "x/linux-b", "x/linux-c"])
        found = await _titles(sessions, "linux", in_files=True)
        assert found[0] == "Linux from scratch"
        assert found[1] == "Collection B"
        assert set(found[2:]) == {"Collection A", "Collection C"}


@async_test
async def test_category_filter_and_deleted_torrents(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Open film", category="films")
            await add_torrent(session, "Open source", category="linux")
            gone = await add_torrent(session, "Open secret")
            gone.deleted_at = utcnow()
        assert sorted(await _titles(sessions, "open")) == ["Open film", "Open source"]
        assert await _titles(sessions, "open", category="films") == ["Open film"]
        async with sessions() as session:
            page = await services.search(session, "open", category="nope")
        assert page.results == [] and page.error == "There is no such category."


@async_test
async def test_reindexing_replaces_and_remove_drops(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            torrent = await add_torrent(session, "Old title", name="release.iso")
        async with transaction(sessions) as session:
            row = await session.get(Torrent, torrent.id)
            assert row is not None
            row.title = "New title"
            await services.index_torrent(session, row)  # files and tags read from the database
        assert await _titles(sessions, "old") == []
        assert await _titles(sessions, "new") == ["New title"]
        async with transaction(sessions) as session:
            await services.remove(session, torrent.id)
        assert await _titles(sessions, "new") == []
        assert await _titles(sessions, "new", in_files=True) == []
        assert set((await _entries(sessions)).values()) == {0}
        async with transaction(sessions) as session:
            assert await services.reindex(session) == 1
        assert await _titles(sessions, "new") == ["New title"]
        assert await _titles(sessions, "new", in_files=True) == ["New title"]
        assert set((await _entries(sessions)).values()) == {1}


async def _entries(sessions: object) -> dict[str, int]:
    """Rows in each index table: SQLite's two FTS5 tables always hold the same torrents."""
    async with sessions() as session:  # type: ignore[operator]
        sqlite = session.get_bind().dialect.name == "sqlite"
        tables = ("search_fts", "search_names") if sqlite else ("search_documents",)
        return {name: (await session.execute(text(f"SELECT count(*) FROM {name}"))).scalar()
                for name in tables}


@async_test
async def test_index_needs_a_torrent_in_the_session(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions, sessions() as session:
        with pytest.raises(ValueError, match="add the torrent"):
            await services.index_torrent(session, Torrent(title="x", name="x"))


@async_test
async def test_paging_through_results(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            for i in range(23):
                await add_torrent(session, f"Pager item {i}" + " pager" * (i % 3))
        seen: list[int] = []
        async with sessions() as session:
            for number in (1, 2, 3):
                page = await services.search(session, "pager", page=number, per_page=10)
                assert page.total == 23 and page.pages == 3
                assert page.has_next is (number < 3)
                seen += [r.torrent.id for r in page.results]
            beyond = await services.search(session, "pager", page=4, per_page=10)
        assert len(seen) == 23 == len(set(seen))
        assert beyond.results == []


@pytest.mark.parametrize("most", [None, 12])
@pytest.mark.parametrize("category", [None, "linux"])
@async_test
async def test_ranking_beyond_the_candidates_pages_one_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, category: str | None, most: int | None
) -> None:
    """More matches than are ranked in one pass: the newest CANDIDATES come first, best
    first, then the older ones best first; no page skips or repeats a torrent. The same
    when there are more matches than are counted (`most`)."""
    monkeypatch.setattr(fts5, "CANDIDATES", 7)
    monkeypatch.setattr(postgres, "CANDIDATES", 7)
    if most is not None:
        monkeypatch.setattr(fts5, "MAX_RESULTS", most)
        monkeypatch.setattr(postgres, "MAX_RESULTS", most)
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            for i in range(30):  # relevance cycles, so old and new torrents mix in bm25 order
                await add_torrent(session, f"Ranked item {i}" + " ranked" * (i % 4),
                                  category="linux" if i % 5 else "films")
        async with sessions() as session:
            counted = await services.search(session, "ranked", category=category)
        assert counted.total == (most or (24 if category else 30))
        everything = await _titles(sessions, "ranked", category=category, per_page=100)
        paged: list[str] = []
        for page_number in range(1, 12):
            paged += await _titles(sessions, "ranked", category=category, page=page_number, per_page=3)
        assert paged == everything and len(set(paged)) == len(paged) == (24 if category else 30)

        def number(title: str) -> int:
            return int(title.split()[2])

        newest = sorted(everything, key=number, reverse=True)[:7]
        assert set(everything[:7]) == set(newest)
        relevance = [title.count("ranked") for title in everything[:7]]
        assert relevance == sorted(relevance, reverse=True)
        rest = [title.count("ranked") for title in everything[7:]]
        assert rest == sorted(rest, reverse=True)


@async_test
async def test_a_large_total_is_counted_or_estimated_and_paging_finds_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More matches than candidates: SQLite counts them from its index; PostgreSQL, where a
    count reads every match from the table, estimates from how far back the newest
    candidates reach, and says so. Either way the last page knows the exact total, and no
    page promises a next one that is not there."""
    monkeypatch.setattr(fts5, "CANDIDATES", 7)
    monkeypatch.setattr(postgres, "CANDIDATES", 7)
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            for i in range(60):  # every other torrent matches, older and newer alike
                await add_torrent(session, f"{'Common' if i % 2 else 'Other'} item {i}")
        async with sessions() as session:
            sqlite = session.get_bind().dialect.name == "sqlite"
            first = await services.search(session, "common", per_page=5)
            middle = await services.search(session, "common", page=3, per_page=5)
            last = await services.search(session, "common", page=4, per_page=8)
    if sqlite:
        assert (first.total, first.exact, middle.exact) == (30, True, True)
    else:
        assert not first.exact and not middle.exact
        assert 15 <= first.total <= 60 and middle.total == first.total  # 7 in the newest 14
    assert first.has_next and middle.has_next
    assert len(last.results) == 6 and (last.total, last.exact) == (30, True)
    assert not last.has_next and last.pages == 4


@pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
@async_test
async def test_postgresql_plans_every_search_for_its_words(tmp_path: Path) -> None:
    """asyncpg prepares each statement once per connection, and PostgreSQL may give a
    statement run more than five times a generic plan, made without the tsquery: one that
    walked the whole table for a rare word. Search statements are planned each time, and
    the statements that follow the search in the same transaction are not."""
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            for i in range(3):
                await add_torrent(session, f"Planned release {i}", files=[f"disc/track{i}.flac"])
        async with sessions() as session:
            for _ in range(8):
                for query, in_files in (("planned release", False), ("release trac", True)):
                    page = await services.search(session, query, in_files=in_files)
                    assert page.total > 0
            prepared = (await session.execute(text(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            ))).all()
            assert (await session.scalar(text("SHOW plan_cache_mode"))) == "auto"
        plans = [(generic, custom) for statement, generic, custom in prepared
                 if postgres.TABLE in statement]
        assert [generic for generic, _ in plans] == [0] * len(plans)
        assert sum(custom for _, custom in plans) >= 3 * 8


@async_test
async def test_newest_first_for_feeds(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            for title in ("linux linux linux", "linux one", "linux two"):
                await add_torrent(session, title)
        assert await _titles(sessions, "linux", newest_first=True) == [
            "linux two", "linux one", "linux linux linux",
        ]


GARBAGE = [
    "", " ", "*", "-", "\"", "'", "(", ")", "{title}:x", "title:ubuntu", "NEAR(a b)", "a OR",
    "AND", "^start", "x\x00y", "\ud800", "-\"\"", "\"a\"*b*", "* * *", "💥", "a" * 5000,
    "%", "_", "\\", "';DROP TABLE torrents;--",
]


@async_test
async def test_garbage_never_raises(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "title ubuntu a b x y start")
        async with sessions() as session:
            for query in GARBAGE:
                for in_files in (False, True):
                    page = await services.search(session, query, in_files=in_files)
                    assert (page.error is None) is parse(query).usable, query


@async_test
async def test_random_input_never_reaches_fts5_syntax(tmp_path: Path) -> None:
    rng = random.Random(20240501)
    alphabet = [*'ab "*-(){}:^+.,;NEARORANDNOT\\\'\x00é日 \t\u201c\u201d', "title:", "NEAR/2"]
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "a b ab ba NEAR OR", files=["a/b"])
        async with sessions() as session:
            for _ in range(400):
                query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
                page = await services.search(session, query, in_files=rng.random() < 0.5)
                assert (page.error is None) is parse(query).usable, query


@async_test
async def test_a_long_file_list_is_searchable_to_its_last_file(tmp_path: Path) -> None:
    # Long enough that the PostgreSQL backend numbers its tokens in a worker thread, and
    # past its last position (16,383): words are found anywhere, phrases in the first part.
    files = [f"Disc {i // 100}/{i:04d} - Track number {i}.flac" for i in range(3000)]
    files[1] = "Disc 0/0001 - Overture kilimanjaro.flac"
    files[-1] = "Disc 29/2999 - Encore zanzibar.flac"
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            await add_torrent(session, "Complete recordings", files=files)
        for query in ("zanzibar", "encore zanzibar", '"overture kilimanjaro"'):
            assert await _titles(sessions, query, in_files=True) == ["Complete recordings"], query
        assert await _titles(sessions, "zanzibar") == []  # not in the names
