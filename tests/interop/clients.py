"""Real BitTorrent clients driven from tests: libtorrent in-process, Transmission as a daemon.

Every client is set up so that the tracker is the only way peers can find each other: DHT, PEX,
local peer discovery and UPnP/NAT-PMP are off, and everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import libtorrent as lt

from .torrents import Torrent
from .waits import wait_until

LOOPBACK = "127.0.0.1"


def free_port(exclude: frozenset[int] = frozenset()) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now.

    Transmission takes its peer and RPC ports from its settings file and cannot report an
    OS-chosen port back, so for it a port has to be chosen up front.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port: int = tcp.getsockname()[1]
            if port in exclude:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOOPBACK, port))
                except OSError:
                    continue
        return port


class LibtorrentClient:
    """One libtorrent session holding one torrent, listening on 127.0.0.1 only."""

    _ALERTS = (
        lt.alert_category.error
        | lt.alert_category.tracker
        | lt.alert_category.status
        | lt.alert_category.connect
        | lt.alert_category.peer
        | lt.alert_category.storage
    )

    def __init__(self, label: str) -> None:
        self.label = label
        self.tracker_alerts: deque[str] = deque(maxlen=30)
        self.other_alerts: deque[str] = deque(maxlen=30)
        self._tracker_errors: list[str] = []
        self._answered: set[str] = set()
        self.handle: Any = None
        self.session = lt.session(
            {
                # Port 0: the OS picks a free port, and libtorrent announces that real port
                # (announce_port 0 means "the port we listen on").
                "listen_interfaces": f"{LOOPBACK}:0",
                "listen_system_port_fallback": False,
                "announce_port": 0,
                "enable_dht": False,
                "enable_lsd": False,
                "enable_upnp": False,
                "enable_natpmp": False,
                "enable_ip_notifier": False,
                # Every peer is 127.0.0.1; without this libtorrent keeps one peer per IP and may
                # keep itself (or a stale entry) instead of the real remote peer.
                "allow_multiple_connections_per_ip": True,
                # Plain TCP only: uTP on loopback makes transfer times erratic.
                "enable_outgoing_utp": False,
                "enable_incoming_utp": False,
                # A torrent with one tracker per tier should announce to all of them.
                "announce_to_all_tiers": True,
                "announce_to_all_trackers": True,
                # Do not linger at shutdown on a tracker that is gone (negative control).
                "stop_tracker_timeout": 1,
                "alert_mask": int(self._ALERTS),
            }
        )
        self.port = self._wait_listening()

    def _wait_listening(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.session.wait_for_alert(200)
            for alert in self.session.pop_alerts():
                if isinstance(alert, lt.listen_failed_alert):
                    raise RuntimeError(f"{self.label}: libtorrent cannot listen: {alert.message()}")
                if (
                    isinstance(alert, lt.listen_succeeded_alert)
                    and alert.socket_type == lt.socket_type_t.tcp
                ):
                    port: int = self.session.listen_port()
                    return port
                self._record(alert)
        raise RuntimeError(f"{self.label}: libtorrent did not start listening within 10 s")

    def add(self, torrent: Torrent, save_path: Path) -> None:
        """Add the torrent; if `save_path` already holds the complete file, it checks and seeds."""
        save_path.mkdir(parents=True, exist_ok=True)
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent.metainfo)
        params.save_path = str(save_path)
        params.flags = (
            lt.torrent_flags.disable_dht
            | lt.torrent_flags.disable_lsd
            | lt.torrent_flags.disable_pex
            | lt.torrent_flags.auto_managed
        )
        self.handle = self.session.add_torrent(params)

    def _record(self, alert: Any) -> None:
        # For UDP trackers libtorrent 2.1 reports only "tracker sent a failure message" and
        # drops the tracker's text, so a UDP error's reason is not visible from here.
        line = f"{alert.what()}: {alert.message()}"
        if isinstance(alert, lt.tracker_error_alert):
            self._tracker_errors.append(line)
        if isinstance(alert, lt.tracker_reply_alert):
            self._answered.add(alert.version.name)
        if alert.category() & lt.alert_category.tracker:
            self.tracker_alerts.append(line)
        else:
            self.other_alerts.append(line)

    def pump(self) -> None:
        """Collect pending alerts (libtorrent drops alerts once its queue is full)."""
        for alert in self.session.pop_alerts():
            self._record(alert)

    def tracker_errors(self) -> list[str]:
        self.pump()
        return list(self._tracker_errors)

    def answered_versions(self) -> set[str]:
        """Which infohashes got an announce answered: "V1", "V2" (the truncated v2 hash)."""
        self.pump()
        return set(self._answered)

    def status(self) -> Any:
        self.pump()
        return self.handle.status()

    def is_seeding(self) -> bool:
        st = self.status()
        return bool(st.is_seeding) and st.total_wanted_done == st.total_wanted

    def payload_downloaded(self) -> int:
        return int(self.status().total_payload_download)

    def describe(self) -> str:
        lines = [f"--- libtorrent {self.label} (port {self.port})"]
        if self.handle is not None:
            st = self.status()
            error = st.errc.message() if st.errc.value() else ""
            lines.append(
                f"state={st.state} progress={st.progress:.3f} peers={st.num_peers} "
                f"seeds={st.num_seeds} payload_down={st.total_payload_download} "
                f"payload_up={st.total_payload_upload} error={error!r}"
            )
            peers = [f"{p.ip[0]}:{p.ip[1]}" for p in self.handle.get_peer_info()]
            lines.append(f"connected peers: {peers}")
        lines.append("tracker alerts:")
        lines.extend(f"  {line}" for line in self.tracker_alerts)
        lines.append("other alerts:")
        lines.extend(f"  {line}" for line in self.other_alerts)
        return "\n".join(lines)

    def close(self) -> None:
        if self.handle is not None:
            self.session.remove_torrent(self.handle)
            self.handle = None
        self.session.pause()
        # The session's destructor sends the stopped announces and joins libtorrent's threads.
        del self.session


class TransmissionError(RuntimeError):
    pass


# Transmission's numeric torrent states (RPC "status").
TR_STOPPED = 0
TR_SEEDING = 6


class TransmissionDaemon:
    """transmission-daemon in the foreground with its own config dir, driven over JSON-RPC."""

    FIELDS = (
        "status",
        "errorString",
        "percentDone",
        "leftUntilDone",
        "downloadedEver",
        "uploadedEver",
        "peersConnected",
        "peers",
        "trackerStats",
    )

    def __init__(self, workdir: Path, label: str) -> None:
        self.label = label
        self.workdir = workdir
        self.config_dir = workdir / "config"
        self.download_dir = workdir / "downloads"
        self.log_path = workdir / "transmission.log"
        self.output_path = workdir / "transmission.out"
        self.config_dir.mkdir(parents=True)
        self.download_dir.mkdir(parents=True)
        self.rpc_port = free_port()
        self.peer_port = free_port(exclude=frozenset({self.rpc_port}))
        self.torrent_id: int | None = None
        self._session_id = ""
        settings = {
            # Only the tracker may connect peers.
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "port-forwarding-enabled": False,
            "utp-enabled": False,
            "bind-address-ipv4": LOOPBACK,
            "bind-address-ipv6": "::1",
            "peer-port": self.peer_port,
            "peer-port-random-on-start": False,
            "rpc-enabled": True,
            "rpc-bind-address": LOOPBACK,
            "rpc-port": self.rpc_port,
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": True,
            "rpc-whitelist": LOOPBACK,
            "rpc-host-whitelist-enabled": False,
            "download-dir": str(self.download_dir),
            "incomplete-dir-enabled": False,
            "watch-dir-enabled": False,
            "blocklist-enabled": False,
            "download-queue-enabled": False,
            "seed-queue-enabled": False,
            "queue-stalled-enabled": False,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "speed-limit-down-enabled": False,
            "speed-limit-up-enabled": False,
            "alt-speed-enabled": False,
            "start-added-torrents": True,
            "rename-partial-files": False,
            # 3 = debug: announces, peer handshakes and choking all show up in the log.
            "message-level": 3,
        }
        (self.config_dir / "settings.json").write_text(json.dumps(settings, indent=2))
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    "transmission-daemon",
                    "--foreground",
                    "--config-dir",
                    str(self.config_dir),
                    "--logfile",
                    str(self.log_path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_rpc()
        except BaseException:
            self.close()
            raise

    def _wait_rpc(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise TransmissionError(
                    f"transmission-daemon exited with {self.process.returncode}\n{self.describe()}"
                )
            try:
                self.rpc("session-get")
            except (OSError, TransmissionError):
                return False
            return True

        wait_until(ready, 15, "Transmission's RPC to answer", self.describe, interval=0.1)

    def rpc(self, method: str, **arguments: Any) -> dict[str, Any]:
        """One JSON-RPC call, doing the X-Transmission-Session-Id handshake when asked."""
        body = json.dumps({"method": method, "arguments": arguments}).encode()
        for _ in range(3):
            request = urllib.request.Request(
                f"http://{LOOPBACK}:{self.rpc_port}/transmission/rpc",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Transmission-Session-Id": self._session_id,
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    reply: dict[str, Any] = json.load(response)
            except urllib.error.HTTPError as e:
                with e:
                    if e.code != 409:
                        raise TransmissionError(f"RPC {method}: HTTP {e.code}") from e
                    self._session_id = e.headers.get("X-Transmission-Session-Id", "")
                continue
            if reply.get("result") != "success":
                raise TransmissionError(f"RPC {method}: {reply.get('result')}")
            return dict(reply.get("arguments", {}))
        raise TransmissionError(f"RPC {method}: no session id accepted")

    def add(self, torrent: Torrent, download_dir: Path | None = None) -> None:
        """Add the torrent; if `download_dir` already holds the file, it verifies and seeds."""
        arguments: dict[str, Any] = {
            "metainfo": base64.b64encode(torrent.metainfo).decode(),
            "download-dir": str(download_dir or self.download_dir),
            "paused": False,
        }
        reply = self.rpc("torrent-add", **arguments)
        added = reply.get("torrent-added") or reply.get("torrent-duplicate")
        if not added:
            raise TransmissionError(f"torrent-add gave no torrent: {reply}")
        self.torrent_id = int(added["id"])

    def torrent(self) -> dict[str, Any]:
        reply = self.rpc("torrent-get", ids=[self.torrent_id], fields=list(self.FIELDS))
        torrents = reply.get("torrents", [])
        if not torrents:
            raise TransmissionError(f"torrent {self.torrent_id} is gone")
        info: dict[str, Any] = torrents[0]
        return info

    def has_announced(self) -> bool:
        """True once an announce to some tracker has succeeded (the tracker now knows us)."""
        return any(t.get("lastAnnounceSucceeded") for t in self.torrent()["trackerStats"])

    def is_complete_seed(self) -> bool:
        info = self.torrent()
        return info["status"] == TR_SEEDING and info["leftUntilDone"] == 0

    def is_complete(self) -> bool:
        info = self.torrent()
        return info["percentDone"] == 1 and info["leftUntilDone"] == 0

    def payload_downloaded(self) -> int:
        return int(self.torrent()["downloadedEver"])

    def stop_torrent(self) -> None:
        """Stop the torrent: Transmission flushes its write cache and sends event=stopped."""
        self.rpc("torrent-stop", ids=[self.torrent_id])
        wait_until(
            lambda: self.torrent()["status"] == TR_STOPPED,
            15,
            "Transmission to stop",
            self.describe,
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        with contextlib.suppress(FileNotFoundError):
            text += self.output_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def describe(self) -> str:
        lines = [f"--- Transmission {self.label} (peer port {self.peer_port})"]
        if self.torrent_id is not None and self.process.poll() is None:
            try:
                info = self.torrent()
            except (OSError, TransmissionError) as e:
                lines.append(f"torrent-get failed: {e}")
            else:
                lines.append(
                    f"status={info['status']} percentDone={info['percentDone']} "
                    f"downloadedEver={info['downloadedEver']} uploadedEver={info['uploadedEver']} "
                    f"peersConnected={info['peersConnected']} error={info['errorString']!r}"
                )
                peers = [f"{p['address']}:{p['port']} {p['flagStr']}" for p in info["peers"]]
                lines.append(f"connected peers: {peers}")
                for t in info["trackerStats"]:
                    lines.append(
                        f"tracker {t['announce']}: announced={t['lastAnnounceSucceeded']} "
                        f"result={t['lastAnnounceResult']!r} peers={t['lastAnnouncePeerCount']} "
                        f"scrape={t['lastScrapeResult']!r}"
                    )
        lines.append("log tail:")
        lines.append(self.log_tail())
        return "\n".join(lines)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
