"""kill -9 campaign: the server is killed at random moments under a mix of writes, and after
every kill the database must be sound and hold every write the server acknowledged.

    .venv/bin/python bench/kill_campaign.py --kills 100
    .venv/bin/python bench/kill_campaign.py --kills 5 --seed 7 --data-dir /tmp/kc   # keep the dir

One data dir for the whole campaign. Each round starts `swarmdex serve` on 127.0.0.1 (port
0), lets --workers threads drive writes through the real site and API (uploads, comments,
donation ledger entries from the signed payment webhook, takedown notices and the staff's
decisions on them, account registrations and deletions), and SIGKILLs the server after a
random delay of up to --max-delay seconds. A write counts as acknowledged when its answer
(201, or the 303 of a form) was received. With the server dead, the SQLite file is checked:

* `PRAGMA integrity_check` is "ok" and `PRAGMA foreign_key_check` finds nothing;
* every acknowledged upload is there with all its file rows, comment with its text, ledger
  entry with its amount, notice, decision and account deletion;
* nothing is half written: every torrent has exactly `file_count` file rows and is in the
  search index exactly while it is listed; a decided notice has its decision time, its
  torrents taken down (accepted) and its audit entry; an account is there with everything
  it wrote, or gone with an audit entry and nothing left behind.

The next round restarts the server on the same data dir, which must come up. The exit status
is 0 when every round passed. Rate limits (registrations, notices, logins, comments) are
per process and start afresh with each round, so every round stays within them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import secrets
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.serve import Serve  # noqa: E402
from tests.support.site import Account, RunningSite  # noqa: E402

from swarmdex.bittorrent.bencode import encode  # noqa: E402
from swarmdex.donations.webhook import HEADER, sign  # noqa: E402

WEBHOOK_SECRET = "kill-campaign-webhook-secret"
CSRF_COOKIE, CSRF_FIELD = "sdx_csrf", "csrf_token"
TIMEOUT = 30.0
# Per server process: below the site's own limits (10 registrations an hour per address,
# 5 takedown notices an hour, 6 comments a minute per account, 30 uploads an hour per account
# and 60 per address).
MAX_REGISTRATIONS, MAX_NOTICES, MAX_COMMENTS_PER_ACCOUNT, MAX_UPLOADS_PER_ACCOUNT = 8, 4, 5, 18
PIECE = 16384
OPS = {"upload": 3, "comment": 3, "donation": 3, "notice": 1, "decision": 2, "account": 1}


class Stop(Exception):
    """The round is over (the server was killed): the worker leaves its loop."""


@dataclass
class Acked:
    """Everything the server acknowledged, over the whole campaign."""

    torrents: dict[str, int] = field(default_factory=dict)  # v1 hex -> files
    comments: dict[str, str] = field(default_factory=dict)  # text -> author name
    donations: dict[str, int] = field(default_factory=dict)  # reference -> amount in cents
    notices: dict[int, str] = field(default_factory=dict)  # id -> pending, accepted, rejected
    registered: dict[str, tuple[str, httpx.Cookies]] = field(default_factory=dict)
    deletions: set[str] = field(default_factory=set)  # account deletions answered 303
    attempted: set[str] = field(default_factory=set)  # deletions sent, answered or not


@dataclass
class Round:
    """One server's life: its budget under the rate limits and what happened in it."""

    site: RunningSite
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    spent: Counter[str] = field(default_factory=Counter)  # against the rate limits
    acked: Counter[str] = field(default_factory=Counter)
    in_flight: Counter[str] = field(default_factory=Counter)
    at_kill: Counter[str] = field(default_factory=Counter)  # in flight when the kill landed
    errors: list[str] = field(default_factory=list)

    def take(self, what: str, limit: int) -> bool:
        """Count one more `what` in this round: False, and nothing counted, past `limit`."""
        with self.lock:
            if self.spent[what] >= limit:
                return False
            self.spent[what] += 1
            return True


@dataclass
class Worker:
    account: Account
    token: str
    cookies: httpx.Cookies


class Campaign:
    def __init__(self, data_dir: Path, rng: random.Random, workers: int) -> None:
        self.data_dir = data_dir
        self.rng = rng
        self.acked = Acked()
        self.lock = threading.Lock()
        self.workers_wanted = workers
        self.workers: list[Worker] = []
        self.admin_cookies = httpx.Cookies()
        self.notice_targets: dict[int, str] = {}  # notice id -> the torrent it names (v1 hex)
        self.deciding: set[int] = set()
        self.taken_down: set[str] = set()  # v1 hex of torrents an accept may have taken down

    # -- the server ------------------------------------------------------------------------

    def serve(self) -> Serve:
        """`swarmdex serve` started; entering it (or `wait_ready`) waits until it is ready."""
        # Accepted notices pile up against the workers' uploads; the repeat-infringer rule
        # would soon take their upload rights, so it is off for the campaign.
        return Serve(self.data_dir, "--port", "0", "--udp-port", "0",
                     env={"SWARMDEX_DONATIONS_WEBHOOK_SECRET": WEBHOOK_SECRET,
                          "SWARMDEX_REPEAT_INFRINGER_NOTICES": "0"})

    def client(self, site: RunningSite, cookies: httpx.Cookies | None = None) -> httpx.Client:
        return httpx.Client(base_url=site.base_url, timeout=TIMEOUT, trust_env=False,
                            cookies=cookies)

    def set_up(self) -> None:
        """Accounts and tokens from the command line, sessions and a campaign over HTTP."""
        with self.serve() as server:
            site = RunningSite(server, self.data_dir)
            admin = site.create_user("kc-admin", role="admin")
            with self.client(site) as client:
                log_in(client, admin)
                answer = post_form(client, "/admin/donations/campaigns", title="Servers",
                                   description="", currency="EUR", period="monthly", goal="",
                                   costs="Hosting: 40.00", starts="2020-01-01", ends="")
                assert answer.status_code == 303, answer.text
                self.admin_cookies = client.cookies
            for _ in range(self.workers_wanted):
                account = site.create_user("kc-worker")
                token = site.create_token(account)
                with self.client(site) as client:
                    log_in(client, account)
                    self.workers.append(Worker(account, token, client.cookies))
            # Something to comment on and to file notices against from the first round on.
            self.upload(Round(site), self.workers[0])
            server.stop()

    # -- one round ---------------------------------------------------------------------------

    def round(self, delay: float) -> Round:
        server = self.serve()
        try:
            server.wait_ready(timeout=60)
        except BaseException:
            server.kill()
            raise
        state = Round(RunningSite(server, self.data_dir))
        threads = [threading.Thread(target=self.work, args=(state, worker, random.Random(
            self.rng.random())), daemon=True) for worker in self.workers]
        for thread in threads:
            thread.start()
        time.sleep(delay)  # where the kill lands: the point of the campaign, not a wait
        with state.lock:
            state.at_kill = +state.in_flight
            state.stop.set()  # failures from here on are the kill's doing
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=TIMEOUT + 5)
        server.kill()
        return state

    def work(self, state: Round, worker: Worker, rng: random.Random) -> None:
        ops: dict[str, Callable[[Round, Worker, random.Random], None]] = {
            "upload": lambda s, w, r: self.upload(s, w),
            "comment": self.comment,
            "donation": self.donation,
            "notice": self.notice,
            "decision": self.decision,
            "account": self.account,
        }
        names, weights = list(OPS), list(OPS.values())
        while not state.stop.is_set():
            kind = rng.choices(names, weights)[0]
            try:
                ops[kind](state, worker, rng)
            except (httpx.HTTPError, Stop) as exc:
                if not state.stop.is_set():
                    state.errors.append(f"{kind}: {exc!r} with the server running")
                return
            except Exception as exc:  # a bug in the campaign or an answer it cannot read
                state.errors.append(f"{kind}: {exc!r}")
                return

    def send(self, state: Round, kind: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        """`call()` counted as in flight while it runs; Stop once the round is over."""
        if state.stop.is_set():
            raise Stop
        with state.lock:
            state.in_flight[kind] += 1
        try:
            return call()
        finally:
            with state.lock:
                state.in_flight[kind] -= 1

    def ack(self, state: Round, kind: str, record: Callable[[], None]) -> None:
        with self.lock, state.lock:
            record()
            state.acked[kind] += 1

    # -- the writes ------------------------------------------------------------------------

    def upload(self, state: Round, worker: Worker) -> None:
        if not state.take(f"upload {worker.account.name}", MAX_UPLOADS_PER_ACCOUNT):
            return
        files = random.randint(1, 400)
        data, v1 = make_torrent(files)
        with self.client(state.site) as client:
            answer = self.send(state, "upload", lambda: client.post(
                "/api/v1/torrents", headers={"Authorization": f"Bearer {worker.token}"},
                data={"category": "linux", "title": f"kill campaign {v1[:8]}"},
                files={"file": ("k.torrent", data, "application/x-bittorrent")}))
        if answer.status_code == 201:
            self.ack(state, "upload", lambda: self.acked.torrents.__setitem__(v1, files))
        elif answer.status_code != 429:
            state.errors.append(f"upload answered {answer.status_code}: {answer.text[:200]}")

    def went_down(self, v1: str) -> bool:
        """True if an accept, answered or not, may have taken `v1` down meanwhile: then a
        refused comment or notice about it is what the site should answer."""
        with self.lock:
            return v1 in self.taken_down

    def live_torrent(self, rng: random.Random) -> str | None:
        with self.lock:
            choices = sorted(set(self.acked.torrents) - self.taken_down)
        return rng.choice(choices) if choices else None

    def comment(self, state: Round, worker: Worker, rng: random.Random,
                cookies: httpx.Cookies | None = None, author: str | None = None) -> bool:
        target = self.live_torrent(rng)
        if target is None:
            return False
        if cookies is None and not state.take(f"comment {worker.account.name}",
                                              MAX_COMMENTS_PER_ACCOUNT):
            return False
        text = f"kc-comment-{secrets.token_hex(6)}"
        name = author or worker.account.name
        with self.client(state.site, cookies or worker.cookies) as client:
            answer = self.send(state, "comment", lambda: post_form(
                client, f"/t/{target}/comments", body=text))
        if answer.status_code == 303:
            self.ack(state, "comment", lambda: self.acked.comments.__setitem__(text, name))
            return True
        gone = answer.status_code in (404, 451) and self.went_down(target)
        if answer.status_code != 429 and not gone:
            state.errors.append(f"comment answered {answer.status_code}")
        return False

    def donation(self, state: Round, worker: Worker, rng: random.Random) -> None:
        reference = f"kc-{secrets.token_hex(8)}"
        cents = rng.randint(100, 50_000)
        body = json.dumps({"reference": reference, "amount": f"{cents // 100}.{cents % 100:02d}",
                           "currency": "EUR", "donor_name": "Ada", "show_name": True}).encode()
        headers = {HEADER: sign(body, WEBHOOK_SECRET.encode(), int(time.time())),
                   "Content-Type": "application/json"}
        with self.client(state.site) as client:
            answer = self.send(state, "donation", lambda: client.post(
                "/api/v1/donations/webhook", content=body, headers=headers))
        if answer.status_code == 201:
            self.ack(state, "donation", lambda: self.acked.donations.__setitem__(reference, cents))
        else:
            state.errors.append(f"webhook answered {answer.status_code}: {answer.text[:200]}")

    def notice(self, state: Round, worker: Worker, rng: random.Random) -> None:
        target = self.live_torrent(rng)
        if target is None or not state.take("notice", MAX_NOTICES):
            return
        with self.client(state.site) as client:
            answer = self.send(state, "notice", lambda: post_form(
                client, "/notice", claimant_name="Rights Holder", organisation="",
                email="legal@example.org", work="A film", torrents=f"/t/{target}",
                good_faith="1", accurate="1", signature="Rights Holder"))
        if answer.status_code == 303:
            # The receipt: /notice/ID/received, then a secret of its own where it has one.
            found = re.fullmatch(r"/notice/(\d+)/received(?:/[^/]+)?", answer.headers["location"])
            assert found, answer.headers["location"]
            notice_id = int(found.group(1))
            def record() -> None:
                self.acked.notices[notice_id] = "pending"
                self.notice_targets[notice_id] = target
            self.ack(state, "notice", record)
        elif answer.status_code != 429 and not self.went_down(target):
            state.errors.append(f"notice answered {answer.status_code}")

    def decision(self, state: Round, worker: Worker, rng: random.Random) -> None:
        with self.lock:
            pending = sorted(n for n, status in self.acked.notices.items()
                             if status == "pending" and n not in self.deciding)
            if not pending:
                return
            notice_id = rng.choice(pending)
            self.deciding.add(notice_id)
            verdict = rng.choice(("accept", "reject"))
            if verdict == "accept":  # from now on it may be down, answered or not
                self.taken_down.add(self.notice_targets[notice_id])
        with self.client(state.site, self.admin_cookies) as client:
            answer = self.send(state, "decision", lambda: post_form(
                client, f"/takedowns/{notice_id}/{verdict}", note="decided under fire"))
        if answer.status_code == 303:
            self.ack(state, "decision", lambda: self.acked.notices.__setitem__(
                notice_id, f"{verdict}ed"))
        elif answer.status_code == 409:  # decided before, by a request whose answer was lost
            with self.lock:
                self.acked.notices[notice_id] = "decided"
        else:
            state.errors.append(f"decision answered {answer.status_code}")

    def account(self, state: Round, worker: Worker, rng: random.Random) -> None:
        """Register, comment, delete the account: each step may be the one the kill cuts."""
        if not state.take("registration", MAX_REGISTRATIONS):
            return
        name, password = f"kc-gone-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        with self.client(state.site) as client:
            answer = self.send(state, "account", lambda: post_form(
                client, "/register", name=name, password=password, password2=password, next="/"))
            if answer.status_code != 303:
                if answer.status_code != 429:
                    state.errors.append(f"register answered {answer.status_code}")
                return
            cookies = client.cookies
        self.ack(state, "account", lambda: self.acked.registered.__setitem__(
            name, (password, cookies)))
        self.comment(state, worker, rng, cookies=cookies, author=name)
        with self.client(state.site, cookies) as client:
            with self.lock:
                self.acked.attempted.add(name)
            answer = self.send(state, "account", lambda: post_form(
                client, "/account/delete", password=password, torrents="anonymous"))
        if answer.status_code == 303:
            self.ack(state, "account", lambda: self.acked.deletions.add(name))
        else:
            state.errors.append(f"account deletion answered {answer.status_code}")

    # -- the check ---------------------------------------------------------------------------

    def check(self) -> list[str]:
        """What is wrong with the database now (the server is not running)."""
        db = sqlite3.connect(f"file:{self.data_dir / 'swarmdex.db'}?mode=ro", uri=True)
        try:
            return self._check(db)
        finally:
            db.close()

    def _check(self, db: sqlite3.Connection) -> list[str]:
        bad: list[str] = []
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            bad.append(f"integrity_check: {integrity[:5]}")
        foreign = db.execute("PRAGMA foreign_key_check").fetchall()
        if foreign:
            bad.append(f"foreign_key_check: {foreign[:5]}")
        # Torrents: whole or absent, and in the search index exactly while listed.
        for tid, count, rows in db.execute(
                "SELECT t.id, t.file_count, (SELECT count(*) FROM torrent_files f "
                "WHERE f.torrent_id = t.id) FROM torrents t"):
            if rows != count or count == 0:
                bad.append(f"torrent {tid}: file_count {count}, {rows} file rows")
        for index in ("search_fts", "search_names"):
            for (tid,) in db.execute(
                    f"SELECT id FROM torrents WHERE deleted_at IS NULL AND id NOT IN "
                    f"(SELECT rowid FROM {index}) UNION SELECT rowid FROM {index} WHERE rowid "
                    f"NOT IN (SELECT id FROM torrents WHERE deleted_at IS NULL)"):
                bad.append(f"torrent {tid}: listed and search index ({index}) disagree")
        stored = dict(db.execute("SELECT lower(hex(info_hash_v1)), file_count FROM torrents"))
        for v1, files in self.acked.torrents.items():
            if stored.get(v1) != files:
                bad.append(f"acknowledged upload {v1} lost (stored: {stored.get(v1)})")
        # Donations.
        entries = dict(db.execute("SELECT reference, amount_minor FROM donations"))
        for reference, cents in self.acked.donations.items():
            if entries.get(reference) != cents:
                bad.append(f"acknowledged ledger entry {reference} lost or changed")
        # Accounts: there with what they wrote, or gone with an audit entry and nothing else.
        users = dict(db.execute("SELECT name, id FROM users"))
        gone = {name for name in self.acked.registered if name not in users}
        for name in gone - self.acked.attempted:
            bad.append(f"account {name} vanished without a deletion")
        for name in self.acked.deletions & set(users):
            bad.append(f"acknowledged deletion of {name} lost: the account is still there")
        audited = db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'account.delete'").fetchone()[0]
        if audited != len(gone):
            bad.append(f"{len(gone)} accounts deleted, {audited} account.delete audit entries")
        # Comments.
        comments = {body: author for body, author in db.execute(
            "SELECT c.body, u.name FROM comments c JOIN users u ON u.id = c.author_id")}
        for text, author in self.acked.comments.items():
            if author in gone:
                if text in comments:
                    bad.append(f"comment {text} outlived its deleted author {author}")
            elif comments.get(text) != author:
                bad.append(f"acknowledged comment {text} by {author} lost")
        bad += self._check_notices(db)
        return bad

    def _check_notices(self, db: sqlite3.Connection) -> list[str]:
        bad: list[str] = []
        audit = {(action, target) for action, target in db.execute(
            "SELECT action, target_id FROM audit_log WHERE action LIKE 'takedown.%'")}
        notices = {nid: (status, decided) for nid, status, decided in db.execute(
            "SELECT id, status, decided_at FROM takedown_notices")}
        for nid, (status, decided) in notices.items():
            items = db.execute(
                "SELECT i.taken_down_at, t.deleted_at FROM takedown_items i "
                "LEFT JOIN torrents t ON t.id = i.torrent_id WHERE i.notice_id = ?",
                (nid,)).fetchall()
            if not items:
                bad.append(f"notice {nid} names no torrent")
            if (status == "pending") != (decided is None):
                bad.append(f"notice {nid}: status {status}, decided_at {decided}")
            if status != "pending" and (f"takedown.{status[:-2]}", str(nid)) not in audit:
                bad.append(f"notice {nid} {status} without its audit entry")
            down = [taken is not None and deleted is not None for taken, deleted in items]
            if status == "accepted" and not all(down):
                bad.append(f"notice {nid} accepted but its torrents are not all taken down")
            if status != "accepted" and any(taken is not None for taken, _ in items):
                bad.append(f"notice {nid} {status} but a torrent of it is taken down")
        for nid, acked in self.acked.notices.items():
            if nid not in notices:
                bad.append(f"acknowledged notice {nid} lost")
            elif acked in ("accepted", "rejected") and notices[nid][0] != acked:
                bad.append(f"acknowledged decision on notice {nid} ({acked}) lost")
        return bad


def post_form(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    return client.post(path, data={CSRF_FIELD: client.cookies[CSRF_COOKIE], **fields})


def log_in(client: httpx.Client, account: Account) -> None:
    answer = post_form(client, "/login", name=account.name, password=account.password, next="/")
    assert answer.status_code == 303, answer.text


def make_torrent(files: int) -> tuple[bytes, str]:
    """A v1 torrent of `files` small files with random piece hashes: unique, valid, quick."""
    sizes = [random.randint(1, 3 * PIECE) for _ in range(files)]
    pieces = -(-sum(sizes) // PIECE)
    info = {
        b"files": [{b"length": size, b"path": [b"d%d" % (i % 7), b"f%d.bin" % i]}
                   for i, size in enumerate(sizes)],
        b"name": f"kc-{secrets.token_hex(6)}".encode(),
        b"piece length": PIECE,
        b"pieces": secrets.token_bytes(20 * pieces),
    }
    data = encode({b"announce": b"http://tracker.invalid/announce", b"info": info})
    return data, hashlib.sha1(encode(info)).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--workers", type=int, default=3, help="threads writing at once")
    parser.add_argument("--max-delay", type=float, default=3.0,
                        help="longest time from the server's start to its kill, seconds")
    parser.add_argument("--data-dir", type=Path, help="kept after the run (default: temporary)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    random.seed(rng.random())  # torrents and amounts too, for a rerun with --seed
    with tempfile.TemporaryDirectory(prefix="kill-campaign-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        campaign = Campaign(data_dir, rng, args.workers)
        print(f"kill campaign: {args.kills} kills, seed {seed}, {args.workers} workers, "
              f"data dir {data_dir}", flush=True)
        campaign.set_up()
        failed = 0
        totals: Counter[str] = Counter()
        in_flight: Counter[str] = Counter()
        for kill in range(1, args.kills + 1):
            delay = rng.uniform(0.05, args.max_delay)
            state = campaign.round(delay)
            bad = state.errors + campaign.check()
            totals += state.acked
            in_flight += state.at_kill
            failed += bool(bad)
            acked = " ".join(f"{k}={v}" for k, v in sorted(state.acked.items())) or "none"
            cut = " ".join(f"{k}={v}" for k, v in sorted(state.at_kill.items())) or "none"
            print(f"kill {kill:3d} after {delay:4.2f} s: acknowledged {acked}; "
                  f"in flight at the kill {cut}: {'FAIL' if bad else 'ok'}", flush=True)
            for line in bad:
                print(f"    {line}", flush=True)
        print(f"acknowledged in all: {dict(sorted(totals.items()))}")
        print(f"in flight at a kill, in all: {dict(sorted(in_flight.items()))}")
        print(f"kept: {len(campaign.acked.torrents)} uploads, {len(campaign.acked.comments)} "
              f"comments, {len(campaign.acked.donations)} ledger entries, "
              f"{len(campaign.acked.notices)} notices, {len(campaign.acked.deletions)} "
              f"account deletions")
        print(f"kill campaign: {args.kills - failed} of {args.kills} kills clean"
              + (" (PASS)" if not failed else " (FAIL)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
