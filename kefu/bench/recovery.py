"""Scenario 5, ``recovery``: how long a restart takes with S sessions (default 10,000) and
A agents (default 1,000) in Redis, plus Q customers (default 500) waiting in the queue.

The data set is built once through the real server, as clients would build it: A agents
(``max_sessions`` S/A) and S+Q guests over REST, every agent connected over WebSocket,
then each guest connects, sends ``request_service``, waits for ``assigned`` (the last Q
for ``queued``) and disconnects. The server is then stopped (SIGTERM) and restarted R times
(default 3) with the command ``scripts/serve`` ends with (``kefu serve``, same data
directory, its own embedded Redis reloading the AOF). Each restart is timed from spawning
the process to:

* **port open**: the first accepted TCP connection (the server opens its port only after
  the dispatcher has restored the queue and the assignments and started the actors);
* **restored**: ``GET /api/system/health`` answers 200 with at least as many actors as were
  running before the stop, all running, and the dispatcher alive.

Then (not timed) the restored state is compared with the state before the stop: the
session and agent actors (``GET /api/system/actors``), the active sessions
(``GET /api/sessions/list``) and the queue (``GET /api/kefu/waiting``).
The agents' grace period and the idle timeout are set to a day, so no restart changes the
data set (an agent without a connection would otherwise hand its sessions back after 60 s).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from kefu.bench.clients import Client, bounded, connect_all
from kefu.bench.relay import fmt
from kefu.bench.rest import admin_token, create_agents, create_guests, get, list_sessions
from kefu.bench.server import (
    bench_port,
    port_open,
    proc_status,
    raise_nofile,
    spawn_server,
    start_server,
    stop_server,
)

ENV = {"KEFU_AGENT_GRACE_SECONDS": "86400", "KEFU_SESSION_IDLE_SECONDS": "86400"}


def _health(port: int, admin: str) -> tuple[int, dict[str, Any] | None]:
    """Health with the admin's token (the actor counts are for admins only)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/system/health",
                                 headers={"Authorization": f"Bearer {admin}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())["data"]
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def log_marks(log: Path, offset: int, spawned: float) -> dict[str, float]:
    """Seconds from spawning the server to the start-up lines of its log written after
    byte ``offset``: the embedded Redis answering (its AOF loaded) and the server started
    (actors restored, port listening)."""
    marks: dict[str, float] = {}
    with open(log, "rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode(errors="replace")
            key = ("redis_ready_s" if "embedded redis-server" in line
                   else "server_started_s" if "server started" in line else None)
            if key is None or key in marks:
                continue
            try:
                at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            except ValueError:
                continue
            marks[key] = round(at - spawned, 3)
    return marks


def snapshot(base: str, admin: str) -> dict[str, Any]:
    """What must survive a restart: actor counts, active sessions, the queue."""
    actors = get(base, "/api/system/actors", admin)["actors"]
    kinds: dict[str, int] = {}
    for a in actors:
        if a["alive"]:
            kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    sessions = list_sessions(base, admin, "active")
    waiting = get(base, "/api/kefu/waiting", admin)
    return {"actors_running": kinds,
            "active_sessions": len(sessions),
            "session_ids": sorted(s["session_id"] for s in sessions),
            "waiting": [w["customer_id"] for w in waiting["waiting_customers"]]}


async def _build_ws(url: str, agents: list[str], guests: list[tuple[str, str]],
                    sessions: int) -> dict[str, int]:
    """Connect the agents, then every guest asks for service (the last ones queue)."""
    agent_clients = await connect_all(url, agents, [f"a{i}" for i in range(len(agents))])
    await asyncio.sleep(0.5)  # the agents' presence reaches the dispatcher first
    outcome: dict[str, int] = {}

    async def guest(uid: str, token: str, wait_for: str) -> None:
        c = await Client.connect(url, token, uid)
        fut = c.future(wait_for)
        c.send({"type": "request_service"})
        try:
            await asyncio.wait_for(fut, 30)
            outcome[wait_for] = outcome.get(wait_for, 0) + 1
        except (TimeoutError, ConnectionError):
            outcome["timeout"] = outcome.get("timeout", 0) + 1
        c.close()

    await bounded([lambda u=u, t=t: guest(u, t, "assigned") for u, t in guests[:sessions]], 64)
    # the queue keeps its order: these go one at a time
    await bounded([lambda u=u, t=t: guest(u, t, "queued") for u, t in guests[sessions:]], 1)
    for c in agent_clients:
        c.close()
    await asyncio.sleep(0.5)
    return outcome


def build(port: int, data_dir: Path, sessions: int, agents: int, queued: int,
          max_sessions: int) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The data set through the real server → (timings, snapshot before stop, admin)."""
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, data_dir, ENV)
    try:
        t = time.monotonic()
        admin = admin_token(base)
        tokens = create_agents(base, admin, [f"rec_kefu_{i}" for i in range(agents)],
                               max_sessions)
        guests = create_guests(base, sessions + queued)
        users_s = time.monotonic() - t
        print(f"  recovery: {agents} agents + {sessions + queued} guests created in "
              f"{users_s:.1f} s", file=sys.stderr, flush=True)
        t = time.monotonic()
        outcome = asyncio.run(_build_ws(f"ws://127.0.0.1:{port}/ws", tokens, guests, sessions))
        ws_s = time.monotonic() - t
        print(f"  recovery: sessions opened over WebSocket in {ws_s:.1f} s: {outcome}",
              file=sys.stderr, flush=True)
        _, health = _health(port, admin)
        before = snapshot(base, admin)
        before["actors_total"] = health["actors"]["total"] if health else None
    finally:
        stop_s = stop_server(proc)
    return ({"users_s": round(users_s, 1), "ws_s": round(ws_s, 1), "outcome": outcome,
             "stop_s": round(stop_s, 2) if stop_s is not None else None}, before, admin)


def timed_restart(port: int, data_dir: Path, base: str, admin: str,
                  before: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """One restart: spawn → port open → every actor restored; then compare the state."""
    want = sum(before["actors_running"].values())
    log = data_dir / "server.log"
    offset = log.stat().st_size if log.exists() else 0
    spawned, t0 = time.time(), time.monotonic()
    proc = spawn_server(port, data_dir, ENV)
    t_port = t_restored = None
    last: dict[str, Any] | None = None
    try:
        while time.monotonic() - t0 < timeout and proc.poll() is None:
            if t_port is None:
                if port_open(port):
                    t_port = time.monotonic() - t0
                else:
                    time.sleep(0.01)  # polling a starting child process
                    continue
            status, last = _health(port, admin)
            a = last["actors"] if last else None
            if status == 200 and a and a["dispatcher_alive"] and a["total"] >= want \
                    and a["running"] == a["total"]:
                t_restored = time.monotonic() - t0
                break
            time.sleep(0.02)
        after = snapshot(base, admin)
        mem = proc_status(proc.pid)
    finally:
        stop_s = stop_server(proc)
    same = {"actors": after["actors_running"] == before["actors_running"],
            "sessions": after["session_ids"] == before["session_ids"],
            "queue": after["waiting"] == before["waiting"]}
    return {**log_marks(log, offset, spawned),
            "port_open_s": round(t_port, 3) if t_port is not None else None,
            "restored_s": round(t_restored, 3) if t_restored is not None else None,
            "actors_running": after["actors_running"],
            "active_sessions": after["active_sessions"], "waiting": len(after["waiting"]),
            "same_as_before": same, "rss_kib": mem["rss_kib"], "threads": mem["threads"],
            "stop_s": round(stop_s, 2) if stop_s is not None else None}


def run(sessions: int, agents: int, queued: int, runs: int,
        max_sessions: int | None = None) -> dict[str, Any]:
    raise_nofile()
    max_sessions = max_sessions or max(1, math.ceil(sessions / agents))
    port = bench_port(300)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        setup, before, admin = build(port, Path(tmp), sessions, agents, queued, max_sessions)
        print(f"  recovery: before the stop: {before['actors_running']}, "
              f"{before['active_sessions']} active sessions, {len(before['waiting'])} waiting",
              file=sys.stderr, flush=True)
        results = []
        for i in range(runs):
            r = timed_restart(port, Path(tmp), base, admin, before)
            print(f"  recovery: run {i + 1}: port open {r['port_open_s']} s, restored "
                  f"{r['restored_s']} s, same as before: {r['same_as_before']}",
                  file=sys.stderr, flush=True)
            results.append(r)
    done = [r["restored_s"] for r in results if r["restored_s"] is not None]
    ports = [r["port_open_s"] for r in results if r["port_open_s"] is not None]
    return {"scenario": "recovery", "sessions": sessions, "agents": agents, "queued": queued,
            "max_sessions": max_sessions, "setup": setup,
            "before": {k: v for k, v in before.items() if k not in ("session_ids", "waiting")}
            | {"waiting": len(before["waiting"])},
            "runs": results,
            "port_open_median_s": round(statistics.median(ports), 3) if ports else None,
            "restored_median_s": round(statistics.median(done), 3) if done else None,
            "all_same": all(all(r["same_as_before"].values()) for r in results)}


def table(r: dict[str, Any]) -> str:
    b, s = r["before"], r["setup"]
    rows = [
        ("data set", f"{r['sessions']} sessions, {r['agents']} agents (max {r['max_sessions']}), "
                     f"{r['queued']} waiting"),
        ("built through the server: users / WebSocket", f"{s['users_s']} s / {s['ws_s']} s"),
        ("before the stop: running actors / active / waiting",
         f"{b['actors_running']} / {b['active_sessions']} / {b['waiting']}"),
    ]
    for i, run_ in enumerate(r["runs"], 1):
        rows.append((f"run {i}: Redis up / port open / all restored",
                     f"{fmt(run_.get('redis_ready_s'), 2)} s / {fmt(run_['port_open_s'], 2)} s / "
                     f"{fmt(run_['restored_s'], 2)} s (RSS {run_['rss_kib'] // 1024} MiB, "
                     f"{run_['threads']} threads)"))
    rows += [("median: port open / all restored", f"{fmt(r['port_open_median_s'], 2)} s / "
                                                  f"{fmt(r['restored_median_s'], 2)} s"),
             ("state after each restart = before", "yes" if r["all_same"] else "NO")]
    return "\n".join(["| recovery | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])
