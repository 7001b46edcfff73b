"""`swarmdex site ...` against a running server: the mode reaches its pages and its tracker
(UDP and HTTP) within about a second, without a restart; `swarmdex purge` on a fresh dir."""

from __future__ import annotations

from pathlib import Path

from swarmdex.cli import MODES
from swarmdex.protocol import udp as udp_wire
from swarmdex.sitemode.rules import MODES as RULE_MODES

from ..support.serve import Serve, swarmdex
from .wire import http_announce, http_get, info_hash, run, udp_clients, until

PORTS = ("--port", "0", "--udp-port", "0")
PICKUP = 5.0  # the server reads the settings every second; allow for a slow machine
NOTICE = "Moving to a **new** server, back Monday."
REASON = "Moving to a new server, back Monday."


def test_modes_spelt_alike() -> None:
    assert MODES == RULE_MODES


def test_mode_and_notice_reach_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Serve(data, *PORTS, "--tracker-mode", "open") as server:
        h = info_hash(901)

        async def open_for_business() -> None:
            async with udp_clients(server.udp) as (client,):
                await client.announce_ok(h, port=6001, left=0)
            assert b"failure reason" not in await http_announce(server.http, h, port=6002)

        run(open_for_business())

        closed = swarmdex("site", "mode", "closed", "--notice", NOTICE, "--level", "warning",
                          "--data-dir", str(data))
        assert closed.returncode == 0, closed.stderr
        assert closed.stdout.strip() == "site mode: closed (notice: warning)"

        async def refused() -> None:
            async def page_closed() -> bool:
                return (await http_get(server.http, "/")).status == 503

            await until(page_closed, timeout=PICKUP)
            page = await http_get(server.http, "/browse")
            assert page.status == 503 and "Moving to a <strong>new</strong> server" in page.body.decode()
            answer = await http_announce(server.http, h, port=6002)
            assert answer[b"failure reason"] == REASON.encode()
            scrape = (await http_get(server.http, f"/scrape?info_hash={'%00' * 20}")).bencoded()
            assert scrape[b"failure reason"] == REASON.encode()
            async with udp_clients(server.udp) as (client,):
                reply = await client.announce(h, port=6001, left=0)
                assert isinstance(reply, udp_wire.ErrorReply) and reply.message == REASON
                scraped = await client.scrape([h])
                assert isinstance(scraped, udp_wire.ErrorReply) and scraped.message == REASON

        run(refused())

        read_only = swarmdex("site", "mode", "read-only", "--data-dir", str(data))
        assert read_only.returncode == 0, read_only.stderr
        cleared = swarmdex("site", "notice", "clear", "--data-dir", str(data))
        assert cleared.returncode == 0 and cleared.stdout.strip() == "notice removed"

        async def read_only_works() -> None:
            async def home_back() -> bool:
                return (await http_get(server.http, "/")).status == 200

            await until(home_back, timeout=PICKUP)
            assert (await http_get(server.http, "/upload")).status == 503
            assert b"failure reason" not in await http_announce(server.http, h, port=6002)

        run(read_only_works())

        notice = swarmdex("site", "notice", "set", "Hello *all*", "--data-dir", str(data))
        assert notice.returncode == 0 and notice.stdout.strip() == "notice set (info)"
        reopened = swarmdex("site", "mode", "open", "--data-dir", str(data))
        assert reopened.returncode == 0, reopened.stderr

        async def banner() -> None:
            async def shown() -> bool:
                page = await http_get(server.http, "/")
                return page.status == 200 and "Hello <em>all</em>" in page.body.decode()

            await until(shown, timeout=PICKUP)

        run(banner())
        assert server.stop() == 0, server.describe()


def test_bad_values_are_usage_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    wrong = swarmdex("site", "mode", "sleeping", "--data-dir", data)
    assert wrong.returncode == 2 and "sleeping" in wrong.stderr
    long = swarmdex("site", "notice", "set", "x" * 2001, "--data-dir", data)
    assert long.returncode == 2 and "at most 2000 characters" in long.stderr
    when = swarmdex("purge", "--data-dir", data, "--now", "someday")
    assert when.returncode == 2 and "--now" in when.stderr


def test_purge_says_what_it_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "access-2000-01-01.log").write_text("2000-01-01T00:00:00+00:00 192.0.2.0 GET / 200\n")
    done = swarmdex("purge", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "deleted access log access-2000-01-01.log"
    assert "deleted 1 access log file(s) past retention" in lines
    assert "deleted 0 expired login session(s)" in lines
    assert not (data / "logs" / "access-2000-01-01.log").exists()
