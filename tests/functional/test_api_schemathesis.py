"""The JSON API of a real `swarmdex serve` holds to its own OpenAPI document.

schemathesis reads /api/v1/openapi.json from the running server and sends every operation
generated requests, valid and invalid, with an API token: no answer may be a server error,
and every answer must have a status, content type, headers and body the document allows.
Generation is deterministic (no random seed), so every run sends the same requests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.serve import Serve, clean_env
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

OPERATIONS = 8  # at least: the API's operations when this was written
EXAMPLES = 25  # per operation and phase: the run takes well under a minute
CHECKS = ",".join((
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
))


def _upload(site: RunningSite, token: str, payload: Path) -> None:
    """One torrent on the site, so listings and search answer with entries to validate."""
    data = build_torrent(payload, {"debian/netinst.iso": 40_000}, seed="schemathesis")
    with httpx.Client(base_url=site.base_url, timeout=30, trust_env=False) as client:
        made = client.post("/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                           data={"category": "linux", "title": "Debian netinst", "tags": "iso"},
                           files={"file": ("d.torrent", data, "application/x-bittorrent")})
    assert made.status_code == 201, made.text


def test_api_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # With a secret set the payment webhook is a live route, not a 404.
    env = {"SWARMDEX_DONATIONS_WEBHOOK_SECRET": "schemathesis-webhook-secret"}
    with Serve(data_dir, "--port", "0", "--udp-port", "0", env=env) as server:
        site = RunningSite(server, data_dir)
        token = site.create_token(site.create_user("schemathesis", role="admin"))
        _upload(site, token, tmp_path / "payload")
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", site.url("/api/v1/openapi.json"),
             "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--generation-deterministic",
             "--header", f"Authorization: Bearer {token}", "--workers", "1",
             "--request-timeout", "30", "--no-color", "--report", "junit",
             "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
            env=clean_env(), cwd=tmp_path,  # its cache of crashes stays out of the checkout
        )
        report = done.stdout + done.stderr
        assert done.returncode == 0, f"{report[-15000:]}\n{server.describe()}"
        tested = re.search(r"Tested: (\d+)", report)
        assert tested is not None and int(tested.group(1)) >= OPERATIONS, report[-3000:]
        assert "Traceback" not in "\n".join(server.lines), server.describe()
