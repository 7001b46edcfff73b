"""Allowlists: open mode, and the listed torrents with their hybrid aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.tracker.hooks import ListedTorrents, OpenTracker

V1 = bytes(range(20))
V2 = bytes(range(100, 132))
OTHER = b"\xee" * 20
V2_ONLY = b"\x05" * 32


def test_open_tracker_serves_every_hash_as_itself() -> None:
    assert OpenTracker().resolve(V1) == V1


def test_v1_only() -> None:
    listed = ListedTorrents()
    assert listed.add(V1) == V1
    assert listed.resolve(V1) == V1
    assert listed.resolve(OTHER) is None
    assert len(listed) == 1


def test_v2_only_is_served_under_its_truncated_hash() -> None:
    listed = ListedTorrents()
    assert listed.add(v2=V2) == V2[:20]
    assert listed.resolve(V2[:20]) == V2[:20]
    assert listed.resolve(V2) is None


def test_hybrid_aliases_one_swarm() -> None:
    listed = ListedTorrents()
    key = listed.add(V1, V2)
    assert key == V1
    assert listed.resolve(V1) == listed.resolve(V2[:20]) == key
    assert len(listed) == 1
    assert listed.remove(V1, V2) == key
    assert listed.resolve(V1) is None and listed.resolve(V2[:20]) is None
    assert len(listed) == 0


@pytest.mark.parametrize(("v1", "v2"), [
    (None, None),
    (b"", None),
    (V1[:19], None),
    (V1 + b"x", None),
    (None, V2[:31]),
    (None, V1),
    (V1, V2[:20]),
    (V1, b""),
])
def test_bad_hashes_are_refused_and_nothing_is_added(v1: bytes | None, v2: bytes | None) -> None:
    listed = ListedTorrents()
    with pytest.raises(ValueError, match="20-byte v1 hash and/or a 32-byte v2 hash"):
        listed.add(v1, v2)
    assert len(listed) == 0
    assert listed.resolve(V1) is None


def test_remove_unknown_is_none() -> None:
    listed = ListedTorrents()
    listed.add(V1)
    assert listed.remove(OTHER) is None
    assert listed.remove(v2=V2) is None
    assert listed.resolve(V1) == V1


@pytest.mark.parametrize("by", ["v1", "v2"])
def test_removing_a_hybrid_by_either_hash_stops_serving_it(by: str) -> None:
    """A hybrid is one torrent: given any of its hashes, `remove` must drop both aliases.

    Otherwise the other alias stays served and, once the site drops the swarm by the returned
    key, its announces re-create that swarm under a key nothing lists any more.
    """
    listed = ListedTorrents()
    key = listed.add(V1, V2)
    removed = listed.remove(V1) if by == "v1" else listed.remove(v2=V2)
    assert removed == key
    assert listed.resolve(V1) is None
    assert listed.resolve(V2[:20]) is None
    assert len(listed) == 0


def test_replace_reports_the_swarms_no_longer_served() -> None:
    listed = ListedTorrents()
    listed.add(V1, V2)
    listed.add(OTHER)
    fresh = ListedTorrents()
    fresh.add(OTHER)
    fresh.add(v2=b"\x01" * 32)
    assert listed.replace(fresh) == {V1}
    assert listed.resolve(V2[:20]) is None
    assert listed.resolve(b"\x01" * 20) == b"\x01" * 20
    # The copy is independent of the list it came from.
    fresh.add(V1)
    assert listed.resolve(V1) is None
    same = ListedTorrents()
    same.add(OTHER)
    same.add(v2=b"\x01" * 32)
    assert listed.replace(same) == set()


def test_load_reads_comments_blanks_and_hybrids(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.txt"
    path.write_text(
        "# served torrents\n"
        "\n"
        f"{V1.hex().upper()}  {V2.hex()}   # a hybrid\n"
        f"   {OTHER.hex()}\n"
        f"{V2_ONLY.hex()}\n"
    )
    listed = ListedTorrents()
    assert listed.load(path) == 3
    assert len(listed) == 3
    assert listed.resolve(V2[:20]) == V1
    assert listed.resolve(OTHER) == OTHER
    assert listed.resolve(V2_ONLY[:20]) == V2_ONLY[:20]


@pytest.mark.parametrize(("line", "problem"), [
    ("nothex", "not a hex info hash: 'nothex'"),
    ("abc", "not a hex info hash"),
    ("ab" * 21, "expected a 40-hex v1 and/or 64-hex v2 hash"),
    (f"{V1.hex()} {OTHER.hex()}", "expected a 40-hex v1"),
    (f"{V1.hex()} {V2.hex()} {OTHER.hex()}", "expected a 40-hex v1"),
])
def test_load_names_the_bad_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "allowlist.txt"
    path.write_text(f"{OTHER.hex()}\n# fine so far\n{line}\n")
    with pytest.raises(ValueError, match=f"{path}:3: ") as caught:
        ListedTorrents().load(path)
    assert problem in str(caught.value)


_torrents = st.sampled_from(range(6))  # a small pool, so adds and removes meet


@given(st.lists(st.tuples(st.sampled_from(["add", "remove_v1", "remove_v2"]), _torrents,
                          st.sampled_from(["v1", "v2", "hybrid"])), max_size=40))
def test_listed_torrents_agree_with_a_plain_model(steps: list[tuple[str, int, str]]) -> None:
    """Any run of adds and removes serves what a map of torrent -> hashes says it should."""
    listed = ListedTorrents()
    model: dict[int, tuple[bytes | None, bytes | None]] = {}  # torrent -> (v1, v2) served
    for step, (action, n, kind) in enumerate(steps):
        v1 = bytes([n]) * 20 if kind != "v2" else None
        v2 = bytes([n + 100]) * 32 if kind != "v1" else None
        if action == "add":
            # Re-adding replaces whatever served any of these hashes.
            for other, (o1, o2) in list(model.items()):
                if (v1 is not None and o1 == v1) or (v2 is not None and o2 == v2):
                    del model[other]
            listed.add(v1, v2)
            model[step] = (v1, v2)
        else:
            gone = bytes([n]) * 20 if action == "remove_v1" else None
            gone2 = bytes([n + 100]) * 32 if action == "remove_v2" else None
            listed.remove(gone, gone2)
            for other, (o1, o2) in list(model.items()):
                if (gone is not None and o1 == gone) or (gone2 is not None and o2 == gone2):
                    del model[other]
        assert len(listed) == len(model)
        for o1, o2 in model.values():
            key = o1 if o1 is not None else o2[:20]  # type: ignore[index]
            assert listed.resolve(key) == key
            if o2 is not None:
                assert listed.resolve(o2[:20]) == key
    served = {h for o1, o2 in model.values() for h in (o1, o2[:20] if o2 else None) if h}
    for n in range(6):
        for h in (bytes([n]) * 20, bytes([n + 100]) * 20):
            assert (listed.resolve(h) is not None) == (h in served)
