"""Scenario 4, ``burst``: G guests (default 1,000) ask for service within one second, for A
agents (default 200) of ``max_sessions`` M (default 5) — exactly enough seats.

Every agent and every guest is connected first (WebSocket, ``hello``), so the burst
measures assignment, not the TCP/WebSocket handshake. Then guest ``i`` sends
``request_service`` at ``t0 + i·(arrival/G)`` (evenly spaced). Reported: the time from the
first ``request_service`` to the last ``assigned`` received, assignment latency p50/p99/max
(that guest's ``request_service`` sent → its ``assigned`` received), and the checks of
``kefu.bench.checks``: every ``assigned`` frame counted per guest and per agent, then
cross-checked with ``GET /api/sessions/list?status=active`` and the waiting list.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kefu.bench.checks import arrival_schedule, assignment_checks, completion_curve
from kefu.bench.clients import Client, connect_all
from kefu.bench.relay import fmt
from kefu.bench.rest import admin_token, create_agents, create_guests, get, list_sessions
from kefu.bench.server import bench_port, cpu_seconds, raise_nofile, start_server, stop_server
from kefu.bench.stats import Histogram


class _Burst:
    def __init__(self, guest_ids: list[str], agent_ids: list[str]) -> None:
        self.sent: dict[str, float] = {}
        self.got: dict[str, float] = {}
        self.guest_frames: dict[str, list[str]] = {g: [] for g in guest_ids}
        self.agent_frames: dict[str, list[str]] = {a: [] for a in agent_ids}
        self.errors: dict[str, int] = {}
        self.all_in = asyncio.Event()
        self.expected = len(guest_ids)

    def on_guest(self, client: Client, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "assigned":
            self.guest_frames[client.name].append(frame["session"]["session_id"])
            self.got.setdefault(client.name, now)
            if len(self.got) == self.expected:
                self.all_in.set()
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] = self.errors.get(code, 0) + 1

    def on_agent(self, client: Client, frame: dict[str, Any], _now: float) -> None:
        if frame.get("type") == "assigned":
            self.agent_frames[client.name].append(frame["session"]["session_id"])


async def _drive(url: str, agents: list[tuple[str, str]], guests: list[tuple[str, str]],
                 arrival: float, timeout: float) -> tuple[_Burst, dict[str, float]]:
    b = _Burst([g for g, _ in guests], [a for a, _ in agents])
    t = time.monotonic()
    agent_clients = await connect_all(url, [tok for _, tok in agents], [a for a, _ in agents],
                                      b.on_agent)
    guest_clients = await connect_all(url, [tok for _, tok in guests], [g for g, _ in guests],
                                      b.on_guest)
    connect_s = time.monotonic() - t
    await asyncio.sleep(0.5)  # the agents' presence reaches the dispatcher first
    offsets = arrival_schedule(len(guest_clients), arrival)
    lag = Histogram()
    t0 = time.monotonic() + 0.2
    for client, off in zip(guest_clients, offsets, strict=True):
        delay = t0 + off - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.monotonic()
        lag.add_seconds(now - (t0 + off))
        b.sent[client.name] = now
        client.send({"type": "request_service"})
    try:
        await asyncio.wait_for(b.all_in.wait(), timeout)
    except TimeoutError:
        pass
    # the agents' frames of the last assignments may still be on their way
    deadline = time.monotonic() + 5
    while (sum(len(v) for v in b.agent_frames.values()) < len(b.got)
           and time.monotonic() < deadline):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a duplicate frame, if any, would arrive now
    for c in agent_clients + guest_clients:
        c.close()
    return b, {"t0": t0, "connect_s": connect_s, "send_lag_p99_ms":
               (lag.percentile(99) or 0) / 1000}


def run(guests: int, agents: int, max_sessions: int, arrival: float,
        timeout: float = 30.0) -> dict[str, Any]:
    raise_nofile()
    port = bench_port(200)
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        proc = start_server(port, Path(tmp))
        try:
            t = time.monotonic()
            admin = admin_token(base)
            agent_ids = [f"burst_kefu_{i}" for i in range(agents)]
            agent_tokens = create_agents(base, admin, agent_ids, max_sessions)
            guest_pairs = create_guests(base, guests)
            users_s = time.monotonic() - t
            print(f"  burst: {agents} agents + {guests} guests created in {users_s:.1f} s",
                  file=sys.stderr, flush=True)
            cpu0 = cpu_seconds(proc.pid)
            b, info = asyncio.run(_drive(url, list(zip(agent_ids, agent_tokens, strict=True)),
                                         guest_pairs, arrival, timeout))
            cpu = cpu_seconds(proc.pid) - cpu0  # connecting, then the burst
            rest = list_sessions(base, admin, "active")
            waiting = get(base, "/api/kefu/waiting", admin)["total"]
        finally:
            stop_server(proc)
    t0 = info["t0"]
    lat = Histogram()
    for g, at in b.got.items():
        lat.add_seconds(at - b.sent[g])
    offsets = [at - t0 for at in b.got.values()]
    checks = assignment_checks(b.guest_frames, b.agent_frames, max_sessions, rest)
    checks["rest_waiting"] = waiting
    all_in = max(offsets) if len(b.got) == guests and offsets else None
    return {"scenario": "burst", "guests": guests, "agents": agents,
            "max_sessions": max_sessions, "arrival_s": arrival,
            "setup": {"users_s": round(users_s, 1), "connect_s": round(info["connect_s"], 1)},
            "all_assigned_s": round(all_in, 3) if all_in is not None else None,
            "assigned": len(b.got), "assign_ms": lat.summary_ms(),
            "send_lag_p99_ms": round(info["send_lag_p99_ms"], 2), "errors": b.errors,
            "server_cpu_s": round(cpu, 2),
            "checks": checks, "curve": completion_curve(offsets)}


def table(r: dict[str, Any]) -> str:
    c, a = r["checks"], r["assign_ms"]
    rows = [
        ("guests / agents × max_sessions", f"{r['guests']} / {r['agents']} × {r['max_sessions']}"),
        ("arrivals spread over", f"{r['arrival_s']:g} s"),
        ("set-up: users over REST / connect", f"{r['setup']['users_s']} s / "
                                              f"{r['setup']['connect_s']} s"),
        ("assigned", f"{r['assigned']} of {r['guests']}"),
        ("first request → last assigned", f"{fmt(r['all_assigned_s'], 3)} s"),
        ("assignment latency p50 / p99 / max ms", f"{fmt(a['p50'], 1)} / {fmt(a['p99'], 1)} / "
                                                  f"{fmt(a['max'], 1)}"),
        ("generator send lag p99 ms", fmt(r["send_lag_p99_ms"], 2)),
        ("server CPU s (connecting + burst)", fmt(r.get("server_cpu_s"), 2)),
        ("guests assigned twice / unassigned", f"{c['assigned_twice']} / {c['unassigned']}"),
        ("agents over capacity (max load seen)", f"{c['agents_over_capacity']} "
                                                 f"({c['max_agent_load']})"),
        ("REST: active sessions / over capacity / guest twice / waiting",
         f"{c['rest_active_sessions']} / {c['rest_agents_over_capacity']} / "
         f"{c['rest_guests_twice']} / {c['rest_waiting']}"),
        ("WS vs REST sessions differing", f"{c['ws_not_in_rest'] + c['rest_not_in_ws']}"),
        ("error frames", str(sum(r["errors"].values())) + (f" {r['errors']}" if r["errors"] else "")),
        ("all checks", "pass" if c["ok"] and not r["errors"] else "FAIL"),
    ]
    return "\n".join(["| burst | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])
