"""Starting the real server for a benchmark, and the small REST helper the load
generator uses to create its users (``kefu/bench/suite.py`` runs the scenarios)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def _post(base: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())["data"]


def start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    """``kefu serve`` with its own embedded Redis (AOF on) in ``data_dir``; waits for
    /api/system/health, logs to ``data_dir/server.log``."""
    env = {**os.environ, "KEFU_PORT": str(port), "KEFU_DATA_DIR": str(data_dir),
           "KEFU_ADMIN_PASSWORD": "bench", "KEFU_GUEST_RATE_PER_MINUTE": "1000000"}
    kefu = str(Path(sys.executable).parent / "kefu")
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen([kefu, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    return wait_healthy(proc, port, 30, "server")


def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float,
                 what: str) -> subprocess.Popen[bytes]:
    """Poll ``/api/system/health`` of a child server until it answers (else kill it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/system/health", timeout=1)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.05)  # a child process starting up, not an actor
    proc.kill()
    raise RuntimeError(f"{what} did not start")
