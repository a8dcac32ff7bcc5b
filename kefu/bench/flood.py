"""Scenario 7, ``flood``: one guest's socket floods the server with bogus frames.

The frames are the ones that used to cost the server something lasting (issue 10): ``read``
and ``rate`` naming made-up sessions that hold the guest's own id (an actor thread each),
``typing`` to such sessions (relayed to strangers), ``resume`` with 200 made-up ids per frame
(a tracker each) and invalid JSON. Two phases, each against a fresh server:

- ``unthrottled``: the per-connection frame budget lifted, so every frame reaches the
  checks behind it — what the server keeps per bogus frame once it is past the budget;
- ``default``: the default budget — the flood is told ``rate_limited`` and the socket is
  closed with 1008.

Sampled every 0.25 s from ``/proc``: the server's threads and RSS; at the end its session
actors (``GET /api/system/actors``) and the error codes the socket received.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from tornado.websocket import WebSocketClosedError

from kefu.bench.clients import Client
from kefu.bench.rest import admin_token, get, post
from kefu.bench.server import bench_port, proc_status, start_server, stop_server
from kefu.config import Settings
from kefu.testing.processes import LAB_LIMITS

KINDS = ("read", "rate", "typing", "resume", "invalid")


def bogus(kind: str, me: str, i: int) -> Any:
    if kind == "resume":
        return {"type": "resume", "since": {f"{me}:ghost{i}_{j}": 0 for j in range(200)}}
    if kind == "invalid":
        return "{not json"
    frame: dict[str, Any] = {"type": kind, "session_id": f"{me}:ghost{i}"}
    if kind == "read":
        frame["seq"] = 1
    if kind == "rate":
        frame["score"] = 5
    return frame


async def _flood(url: str, token: str, me: str, frames: int, pid: int) -> dict[str, Any]:
    samples: list[dict[str, int]] = [proc_status(pid)]
    codes: Counter[str] = Counter()

    def on_frame(_c: Client, frame: dict[str, Any], _t: float) -> None:
        if frame.get("type") == "error":
            codes[frame.get("code", "?")] += 1

    client = await Client.connect(url, token, me, on_frame)
    sent = 0
    started = time.monotonic()
    next_sample = started + 0.25
    try:
        for i in range(frames):
            if client.closed:
                break
            frame = bogus(KINDS[i % len(KINDS)], me, i)
            try:
                client.ws.write_message(frame if isinstance(frame, str)
                                        else orjson.dumps(frame).decode())
            except WebSocketClosedError:
                break  # the server closed the socket (1008)
            sent += 1
            if i % 50 == 49:
                await asyncio.sleep(0)  # let the reader keep up with the error frames
            if time.monotonic() >= next_sample:
                samples.append(proc_status(pid))
                next_sample += 0.25
        for _ in range(40):  # the last replies, then the figures settle
            await asyncio.sleep(0.25)
            samples.append(proc_status(pid))
    finally:
        closed_by_server = client.closed
        close_code = client.ws.close_code
        client.close()
    return {"sent": sent, "seconds": round(time.monotonic() - started, 2),
            "closed_by_server": closed_by_server, "close_code": close_code,
            "errors": dict(codes),
            "threads_start": samples[0]["threads"],
            "threads_max": max(s["threads"] for s in samples),
            "threads_end": samples[-1]["threads"],
            "rss_kib_start": samples[0]["rss_kib"],
            "rss_kib_max": max(s["rss_kib"] for s in samples),
            "rss_kib_end": samples[-1]["rss_kib"]}


def phase(name: str, frames: int, env: dict[str, str]) -> dict[str, Any]:
    port = bench_port(600 if name == "default" else 700)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix=f"kefu-flood-{name}-") as tmp:
        proc = start_server(port, Path(tmp) / "data", env)
        try:
            admin = admin_token(base)
            guest = post(base, "/api/auth/guest", {"name": "flood"})
            result = asyncio.run(_flood(f"ws://127.0.0.1:{port}/ws", guest["token"],
                                        guest["user"]["id"], frames, proc.pid))
            actors = get(base, "/api/system/actors", admin, {"kind": "session"})["total"]
            result["session_actors"] = actors
        finally:
            stop_server(proc)
    print(f"  flood/{name}: {result}", file=sys.stderr, flush=True)
    return result


def run(frames: int) -> dict[str, Any]:
    defaults = {name: str(Settings.model_fields[name].default) for name in (
        "ws_frame_rates", "ws_flood_strikes", "typing_interval_seconds")}
    env = {f"KEFU_{name.upper()}": value for name, value in defaults.items()}
    lifted = {**env, "KEFU_WS_FRAME_RATES": LAB_LIMITS["KEFU_WS_FRAME_RATES"]}
    return {"frames": frames, "unthrottled": phase("unthrottled", frames, lifted),
            "default": phase("default", frames, env)}


def table(r: dict[str, Any]) -> str:
    rows = ["| phase | frames sent | seconds | closed | errors | threads start/max/end | "
            "RSS MiB start/max/end | session actors |", "|---|---|---|---|---|---|---|---|"]
    for name in ("unthrottled", "default"):
        p = r[name]
        errors = ", ".join(f"{k} {v}" for k, v in sorted(p["errors"].items()))
        rss = "/".join(f"{p[k] / 1024:.0f}" for k in ("rss_kib_start", "rss_kib_max",
                                                       "rss_kib_end"))
        rows.append(f"| {name} | {p['sent']} | {p['seconds']} | "
                    f"{p['close_code'] if p['closed_by_server'] else 'no'} | {errors} | "
                    f"{p['threads_start']}/{p['threads_max']}/{p['threads_end']} | {rss} | "
                    f"{p['session_actors']} |")
    return "\n".join(rows)
