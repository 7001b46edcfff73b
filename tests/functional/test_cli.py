"""The `swarmdex` command as an operator runs it: a real process, real ports, real signals."""

from __future__ import annotations

import hashlib
import signal
import socket
import stat
from pathlib import Path

import pytest

from swarmdex.protocol import udp as udp_wire
from swarmdex.tracker.logic import UNREGISTERED

from ..support.serve import Serve, swarmdex
from .wire import (
    http_announce,
    http_announce_ok,
    info_hash,
    run,
    split_peers,
    stats,
    udp_clients,
    until,
)

PORTS = ("--port", "0", "--udp-port", "0")
ALLOWLIST_PICKUP = 5.0  # the server looks at the file every second; allow for a slow machine


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_announces_urls_serves_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    with Serve(data, *PORTS, "--tracker-mode", "open") as server:
        said = [line for line in server.lines if line.startswith("swarmdex: ")]
        http_port, udp_port = server.http[1], server.udp[1]
        assert said[-1] == "swarmdex: ready"
        assert f"swarmdex: tracker http://127.0.0.1:{http_port}/announce" in said
        assert f"swarmdex: tracker udp://127.0.0.1:{udp_port}/announce" in said
        assert f"swarmdex: site http://127.0.0.1:{http_port}/" in said
        assert 0 not in (http_port, udp_port)

        async def use() -> None:
            h = info_hash(501)
            async with udp_clients(server.udp) as (client,):
                reply = await client.announce_ok(h, port=6001, left=0)
                assert reply.seeders == 1
            answer = await http_announce_ok(server.http, h, port=6002)
            assert split_peers(answer[b"peers"], 6) == [("127.0.0.1", 6001)]
            assert (await stats(server.http))["announces"] == 2

        run(use())

        secret = data / "secret.key"
        assert len(secret.read_bytes()) == 32
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600

        assert server.stop(sig) == 0, server.describe()
        output = "\n".join(server.lines)
        assert "Traceback" not in output, output

        # Stopped means the ports are free again.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", http_port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", udp_port))


def _hex(h: bytes) -> str:
    return h.hex()


def test_allow_commands_drive_a_running_listed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    h = info_hash(510)
    v1 = hashlib.sha1(b"hybrid").digest()
    v2 = hashlib.sha256(b"hybrid").digest()
    with Serve(data, *PORTS, "--tracker-mode", "listed") as server:
        assert f"swarmdex: listed mode, allowlist {data / 'allowlist.txt'}" in server.lines

        async def served(info: bytes) -> bool:
            answer = await http_announce(server.http, info, port=6001)
            if b"failure reason" in answer:
                assert answer[b"failure reason"] == UNREGISTERED.encode(), answer
                return False
            return True

        async def refused(info: bytes) -> bool:
            return not await served(info)

        async def udp_refused(info: bytes) -> None:
            async with udp_clients(server.udp) as (client,):
                reply = await client.announce(info, port=6001)
                assert isinstance(reply, udp_wire.ErrorReply) and reply.message == UNREGISTERED

        assert run(refused(h))

        added = swarmdex("allow", "add", _hex(h).upper(), "--data-dir", str(data))
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == f"listed {_hex(h)}"
        run(until(lambda: served(h), timeout=ALLOWLIST_PICKUP))

        again = swarmdex("allow", "add", _hex(h), "--data-dir", str(data))
        assert (again.returncode, again.stdout.strip()) == (0, "already listed")

        hybrid = swarmdex("allow", "add", _hex(v1), _hex(v2), "--data-dir", str(data))
        assert hybrid.returncode == 0, hybrid.stderr

        async def hybrid_is_one_swarm() -> None:
            await until(lambda: served(v2[:20]), timeout=ALLOWLIST_PICKUP)
            answer = await http_announce_ok(server.http, v1, port=6002)
            assert split_peers(answer[b"peers"], 6) == [("127.0.0.1", 6001)]

        run(hybrid_is_one_swarm())

        listing = swarmdex("allow", "list", "--data-dir", str(data))
        assert listing.returncode == 0
        assert listing.stdout.splitlines() == [_hex(h), f"{_hex(v1)} {_hex(v2)}"]

        removed = swarmdex("allow", "remove", _hex(h), "--data-dir", str(data))
        assert removed.returncode == 0, removed.stderr
        run(until(lambda: refused(h), timeout=ALLOWLIST_PICKUP))
        run(udp_refused(h))

        # A hybrid goes away given either of its hashes.
        removed = swarmdex("allow", "remove", _hex(v2), "--data-dir", str(data))
        assert removed.returncode == 0, removed.stderr
        run(until(lambda: refused(v1), timeout=ALLOWLIST_PICKUP))
        assert run(refused(v2[:20]))

        gone = swarmdex("allow", "remove", _hex(h), "--data-dir", str(data))
        assert gone.returncode == 1 and "not listed" in gone.stderr

        assert server.stop() == 0, server.describe()


@pytest.mark.parametrize("hashes", [
    ["zz" * 20],
    ["ab" * 19],
    ["ab" * 20, "cd" * 20],
    ["ab" * 32, "cd" * 32],
    ["ab" * 21],
])
def test_allow_add_rejects_bad_hashes(tmp_path: Path, hashes: list[str]) -> None:
    result = swarmdex("allow", "add", *hashes, "--data-dir", str(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Usage:" in result.stderr
    assert "40-hex v1 hash" in result.stderr
    assert not (tmp_path / "allowlist.txt").exists()


def test_allow_list_follows_allowlist_option(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "served.txt"
    assert swarmdex("allow", "add", "ab" * 20, "--allowlist", str(path)).returncode == 0
    assert path.read_text() == "ab" * 20 + "\n"
    listing = swarmdex("allow", "list", "--allowlist", str(path))
    assert listing.stdout == "ab" * 20 + "\n"


def test_unknown_environment_variable_stops_serve(tmp_path: Path) -> None:
    result = swarmdex("serve", "--data-dir", str(tmp_path), "--host", "127.0.0.1", *PORTS,
                      env={"SWARMDEX_FOO": "1"})
    assert result.returncode != 0
    assert "SWARMDEX_FOO" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["--config", "data dir"])
def test_unknown_config_file_key_stops_serve(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "custom.toml" if where == "--config" else data / "swarmdex.toml"
    config.write_text('port = 0\nudp_port = 0\ntracker_mod = "listed"\n')
    extra = ["--config", str(config)] if where == "--config" else []
    result = swarmdex("serve", "--data-dir", str(data), "--host", "127.0.0.1", *extra)
    assert result.returncode != 0
    assert "tracker_mod" in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_environment_value_is_a_usage_error(tmp_path: Path) -> None:
    result = swarmdex("serve", "--data-dir", str(tmp_path), "--host", "127.0.0.1",
                      "--udp-port", "0", env={"SWARMDEX_PORT": "eighty"})
    assert result.returncode == 2
    assert "port" in result.stderr and "Traceback" not in result.stderr


def test_list_setting_from_environment_is_read_or_refused_cleanly(tmp_path: Path) -> None:
    """`SWARMDEX_HOSTS=127.0.0.1` is what an operator writes; it must not end in a traceback."""
    result = swarmdex("serve", "--data-dir", str(tmp_path), *PORTS,
                      env={"SWARMDEX_HOSTS": "127.0.0.1", "SWARMDEX_TRACKER_MODE": "nonsense"})
    assert "Traceback" not in result.stderr, result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2
    assert "tracker_mode" in result.stderr or "hosts" in result.stderr.lower()


def test_port_in_use_is_reported_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = swarmdex("serve", "--data-dir", str(tmp_path), "--host", "127.0.0.1",
                          "--port", str(port), "--udp-port", "0")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr.strip().splitlines()[-1]
    assert str(port) in result.stderr


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    """Each layer overrides the one before: defaults < TOML file < SWARMDEX_* < CLI flags."""
    data = tmp_path / "data"
    data.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy_port = taken.getsockname()[1]
        # The data dir's swarmdex.toml is read without --config.
        (data / "swarmdex.toml").write_text(
            f'tracker_mode = "listed"\ninterval = 100\ninterval_jitter = 0\nmin_interval = 61\n'
            f"port = 0\nudp_port = {busy_port}\n"
        )
        env = {
            "SWARMDEX_TRACKER_MODE": "open",  # beats the file
            "SWARMDEX_INTERVAL": "200",  # beats the file
            "SWARMDEX_UDP_PORT": str(busy_port),  # beaten by the flag
        }
        with Serve(data, "--udp-port", "0", env=env) as server:
            assert server.udp[1] != busy_port
            assert not any("listed mode" in line for line in server.lines)

            async def check() -> None:
                answer = await http_announce_ok(server.http, info_hash(520), port=6001)
                assert answer[b"interval"] == 200  # environment over file
                assert answer[b"min interval"] == 61  # file over default
                async with udp_clients(server.udp) as (client,):
                    reply = await client.announce_ok(info_hash(520), port=6002)
                    assert reply.interval == 200 and reply.leechers == 2

            run(check())
            assert server.stop() == 0, server.describe()

        # The flag beats the environment for the mode, too.
        with Serve(data, "--udp-port", "0", "--tracker-mode", "listed", env=env) as server:
            assert any("listed mode" in line for line in server.lines)
            answer = run(http_announce(server.http, info_hash(520), port=6001))
            assert answer == {b"failure reason": UNREGISTERED.encode()}
            assert server.stop() == 0, server.describe()


def test_bare_swarmdex_means_serve(tmp_path: Path) -> None:
    """`swarmdex` alone serves, configured here through the environment only."""
    env = {"SWARMDEX_DATA_DIR": str(tmp_path / "data"), "SWARMDEX_HOSTS": '["127.0.0.1"]',
           "SWARMDEX_PORT": "0", "SWARMDEX_UDP_PORT": "0"}
    with Serve(None, env=env, cwd=tmp_path, command=()) as server:
        assert (tmp_path / "data" / "secret.key").exists()
        assert run(stats(server.http))["announces"] == 0
        assert server.stop() == 0, server.describe()
