"""The ``relay`` scenario: P customer–agent pairs chatting in a closed loop.

It starts the real server (its own embedded Redis, AOF on) as a child process, creates P
agents (max_sessions 1) and P guests over REST, connects them all over WebSockets from one
asyncio process, gets every guest assigned, then each guest sends, waits for its ack and
sends again for ``seconds``. It reports delivered msgs/s and send→ack / send→delivery
latency percentiles, and writes JSON under ``var/bench/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect


def _post(base: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read())["data"]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KEFU_PORT": str(port), "KEFU_DATA_DIR": str(data_dir),
           "KEFU_ADMIN_PASSWORD": "bench", "KEFU_GUEST_RATE_PER_MINUTE": "1000000"}
    kefu = str(Path(sys.executable).parent / "kefu")
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen([kefu, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/system/health", timeout=1)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


async def _until(conn: WebSocketClientConnection, kind: str) -> dict[str, Any]:
    while True:
        raw = await conn.read_message()
        if raw is None:
            raise RuntimeError("socket closed")
        frame = json.loads(raw)
        if frame["type"] == kind:
            return frame


async def run(pairs: int, seconds: float, port: int) -> dict[str, Any]:
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    admin = _post(base, "/api/auth/login", {"user_id": "admin", "password": "bench"})["token"]
    agents, guests = [], []
    for i in range(pairs):
        kid = f"bench_kefu_{i}"
        _post(base, "/api/users/create", {"id": kid, "name": kid, "user_type": "kefu",
                                          "password": "pw", "max_sessions": 1}, admin)
        agents.append(_post(base, "/api/auth/login", {"user_id": kid, "password": "pw"})["token"])
        guests.append(_post(base, "/api/auth/guest", {"name": f"g{i}"})["token"])
    agent_conns = [await websocket_connect(f"{ws}?token={t}") for t in agents]
    for c in agent_conns:
        await _until(c, "hello")
    guest_conns = [await websocket_connect(f"{ws}?token={t}") for t in guests]
    for c in guest_conns:
        await _until(c, "hello")
        c.write_message(json.dumps({"type": "request_service"}))
        await _until(c, "assigned")
    sent_at: dict[str, float] = {}
    ack_lat: list[float] = []
    deliver_lat: list[float] = []
    stop_at = time.perf_counter() + seconds
    delivered = 0

    async def agent_reader(conn: WebSocketClientConnection) -> None:
        nonlocal delivered
        while True:
            raw = await conn.read_message()
            if raw is None:
                return
            frame = json.loads(raw)
            if frame["type"] == "message":
                cmid = frame["message"]["client_msg_id"]
                if cmid in sent_at:
                    deliver_lat.append(time.perf_counter() - sent_at[cmid])
                    delivered += 1

    async def guest_loop(i: int, conn: WebSocketClientConnection) -> int:
        n = 0
        while time.perf_counter() < stop_at:
            cmid = f"{i}-{n}"
            sent_at[cmid] = time.perf_counter()
            await conn.write_message(json.dumps({"type": "message", "client_msg_id": cmid,
                                                 "content": f"bench {n}"}))
            await _until(conn, "ack")
            ack_lat.append(time.perf_counter() - sent_at[cmid])
            n += 1
        return n

    readers = [asyncio.create_task(agent_reader(c)) for c in agent_conns]
    started = time.perf_counter()
    counts = await asyncio.gather(*(guest_loop(i, c) for i, c in enumerate(guest_conns)))
    elapsed = time.perf_counter() - started
    for c in agent_conns + guest_conns:
        c.close()
    for r in readers:
        r.cancel()
    ms = 1000.0
    return {"scenario": "relay-closed-loop", "pairs": pairs, "seconds": round(elapsed, 2),
            "messages": sum(counts), "msgs_per_s": round(sum(counts) / elapsed, 1),
            "delivered": delivered,
            "ack_ms": {"p50": round(_pct(ack_lat, 50) * ms, 2),
                       "p99": round(_pct(ack_lat, 99) * ms, 2),
                       "max": round(max(ack_lat) * ms, 2) if ack_lat else None,
                       "mean": round(statistics.fmean(ack_lat) * ms, 2) if ack_lat else None},
            "deliver_ms": {"p50": round(_pct(deliver_lat, 50) * ms, 2),
                           "p99": round(_pct(deliver_lat, 99) * ms, 2)},
            "cpus": os.cpu_count()}


def main(pairs: int = 100, seconds: float = 10.0, out_dir: str = "var/bench") -> int:
    """Run the relay scenario against a fresh server; print and save the result."""
    port = 18000 + os.getpid() % 1000
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        proc = start_server(port, Path(tmp))
        try:
            result = asyncio.run(run(pairs, seconds, port))
        finally:
            proc.terminate()
            proc.wait(20)
    print(json.dumps(result, indent=2))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / f"relay-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"saved {path}")
    return 0
