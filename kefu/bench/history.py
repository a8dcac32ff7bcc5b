"""Scenario 6, ``history``: paging through one long session (default 100,000 messages) and
searching all stored messages (default 1,000,000), through the REST API, as an admin.

The long session goes through the real WebSocket path (one agent and one customer, each
keeping 64 messages in flight, every message acked after it is stored), unless
``--no-ws`` says to load it too; the rest of the data set is stored by
``kefu.bench.history_data.load`` (the server's own append script and indexes, run from the
bench process in pipelines) — the output says which. Then each page and each search is
timed on one keep-alive HTTP connection: one warm-up call, then ``repeat`` calls (3 when a
call takes over 2 s); median and p99 (nearest rank, so with 20 runs it is the max).
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu.bench import history_data as data
from kefu.bench.clients import Client
from kefu.bench.relay import fmt
from kefu.bench.rest import Timed, admin_token, create_agents, create_guests
from kefu.bench.server import bench_port, start_server, stop_server

WINDOW = 64


async def _ws_session(url: str, agent_tok: str, guest_tok: str, n: int) -> dict[str, Any]:
    """One long session over WebSockets: both sides send, ``WINDOW`` in flight each."""
    agent = await Client.connect(url, agent_tok, "agent")
    guest = await Client.connect(url, guest_tok, "guest")
    assigned = guest.future("assigned")
    guest.send({"type": "request_service"})
    sid = (await asyncio.wait_for(assigned, 30))["session"]["session_id"]
    share = {"guest": (n + 1) // 2, "agent": n // 2}
    sent = {"guest": 0, "agent": 0}
    inflight = {"guest": 0, "agent": 0}
    acked = {"n": 0, "errors": 0}
    done = asyncio.Event()

    def pump(c: Client) -> None:
        side = c.name
        while inflight[side] < WINDOW and sent[side] < share[side]:
            i = 2 * sent[side] + (0 if side == "guest" else 1)
            content, kind = data.content_of(i)
            frame: dict[str, Any] = {"type": "message", "client_msg_id": f"{side}-{i}",
                                     "content": content, "content_type": kind}
            if kind == "Image":
                frame["url"] = "https://example.com/a.png"
            if side == "agent":
                frame["session_id"] = sid
            c.send(frame)
            sent[side] += 1
            inflight[side] += 1

    def on_frame(c: Client, frame: dict[str, Any], _now: float) -> None:
        kind = frame.get("type")
        if kind in ("ack", "error"):
            inflight[c.name] -= 1
            acked["n" if kind == "ack" else "errors"] += 1
            if acked["n"] + acked["errors"] >= n:
                done.set()
            pump(c)

    agent.on_frame = guest.on_frame = on_frame
    t = time.monotonic()
    pump(guest)
    pump(agent)
    await asyncio.wait_for(done.wait(), max(600.0, n / 50))
    took = time.monotonic() - t
    agent.close()
    guest.close()
    return {"session_id": sid, "messages": acked["n"], "errors": acked["errors"],
            "seconds": round(took, 1), "per_s": round(acked["n"] / took, 1)}


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _time(call: Any, repeat: int) -> dict[str, Any]:
    """Warm up once, then time ``repeat`` calls (3 if the warm-up took over 2 s)."""
    took, result = call()
    runs = 3 if took > 2.0 else repeat
    samples = [call()[0] for _ in range(runs)]
    return {"runs": runs, "median_ms": round(_pct(samples, 50) * 1000, 2),
            "p99_ms": round(_pct(samples, 99) * 1000, 2), "result": result}


def measure(api: Timed, sid: str, total: int, repeat: int) -> dict[str, Any]:
    """Pages of the long session and searches over everything stored."""
    pages: dict[str, Any] = {}
    for limit in (50, 200):
        last = max(1, math.ceil(total / limit))
        spots = [("first", 1), ("middle", (last + 1) // 2), ("last", last)] if limit == 50 \
            else [("last", last)]
        for name, page in spots:
            t = _time(lambda page=page, limit=limit: api.call(
                "GET", f"/api/sessions/{sid}/messages", params={"page": page, "limit": limit}),
                repeat)
            got = t.pop("result")
            pages[f"{name} (page {page}, limit {limit})"] = t | {"messages": len(got["messages"])}
    day = datetime.fromtimestamp(time.time() - 30 * 86400, UTC).strftime("%Y-%m-%d")
    week = datetime.fromtimestamp(time.time() - 10 * 86400, UTC).strftime("%Y-%m-%d")
    searches = [
        ("one agent's messages (index only)", {"from_user": "hf_7"}, True),
        ("common keyword + one agent", {"keyword": data.COMMON, "from_user": "hf_7"}, True),
        ("rare keyword + one day", {"keyword": data.RARE, "start_date": day,
                                    "end_date": day}, True),
        ("images since a date (index only)", {"content_type": "Image",
                                               "start_date": week}, True),
        ("rare keyword in the long session", {"keyword": data.RARE, "session_id": sid}, False),
        ("rare keyword alone (scans every message)", {"keyword": data.RARE}, False),
    ]
    found: dict[str, Any] = {}
    for name, body, selective in searches:
        t = _time(lambda body=body: api.call("POST", "/api/messages/search",
                                             body={**body, "limit": 20}), repeat)
        got = t.pop("result")
        found[name] = t | {"filter": body, "selective": selective,
                           "total": got["pagination"]["total"],
                           "server_took_ms": got.get("took_ms")}
    return {"pages": pages, "searches": found}


def run(session_messages: int, total: int, repeat: int, ws_path: bool = True) -> dict[str, Any]:
    port = bench_port(400)
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        proc = start_server(port, Path(tmp))
        try:
            admin = admin_token(base)
            end = time.time()
            # global content indexes: the long session has 0..session_messages-1
            specs = data.plan(total, end, skip=session_messages)
            ws: dict[str, Any] = {}
            if ws_path:
                agent = create_agents(base, admin, ["hist_kefu"], 1)[0]
                guest = create_guests(base, 1)[0][1]
                t = time.monotonic()
                ws = asyncio.run(_ws_session(url, agent, guest, session_messages))
                sid = ws["session_id"]
                print(f"  history: {ws['messages']} messages through WebSockets in "
                      f"{time.monotonic() - t:.1f} s ({ws['per_s']}/s)",
                      file=sys.stderr, flush=True)
            else:
                sid = "hist_kehu:hist_kefu"
                specs.insert(0, data.SessionSpec(sid, "hist_kehu", "hist_kefu",
                                                 end - session_messages * data.GAP_S - 3600,
                                                 session_messages, 0))
            t = time.monotonic()
            socket = f"unix://{Path(tmp).resolve() / 'redis' / 'redis.sock'}"
            step = {"next": 100_000}

            def progress(n: int) -> None:
                if n >= step["next"]:
                    step["next"] += 100_000
                    print(f"  history: {n} messages loaded ({time.monotonic() - t:.0f} s)",
                          file=sys.stderr, flush=True)

            loaded = data.load(socket, specs, progress=progress)
            load_s = time.monotonic() - t
            print(f"  history: the loader stored {loaded} messages in {load_s:.1f} s",
                  file=sys.stderr, flush=True)
            api = Timed(port, admin)
            count = api.call("GET", f"/api/sessions/{sid}")[1]["session"]["message_count"]
            figures = measure(api, sid, count, repeat)
            api.close()
        finally:
            stop_server(proc)
    return {"scenario": "history", "session_id": sid, "session_messages": count,
            "total_messages": ws.get("messages", 0) + loaded,
            "ws": ws, "loaded": loaded, "load_s": round(load_s, 1),
            "loaded_with": "kefu.bench.history_data.load: Store.assign, AppendLog.command "
                           "(the append Lua script), Store.close_session",
            "repeat": repeat, **figures}


def table(r: dict[str, Any]) -> str:
    ws = r["ws"]
    lines = [f"History: {r['total_messages']} messages stored; the long session "
             f"`{r['session_id']}` has {r['session_messages']} "
             f"({ws.get('messages', 0)} sent over WebSockets at {ws.get('per_s', '-')}/s, "
             f"the rest with the server's append script: {r['loaded']} in {r['load_s']} s).",
             "", "| read | runs | median ms | p99 ms | result |", "|---|---|---|---|---|"]
    for name, p in r["pages"].items():
        lines.append(f"| page: {name} | {p['runs']} | {fmt(p['median_ms'], 2)} "
                     f"| {fmt(p['p99_ms'], 2)} | {p['messages']} messages |")
    for name, s in r["searches"].items():
        tag = "" if s["selective"] else " (not selective)"
        lines.append(f"| search: {name}{tag} | {s['runs']} | {fmt(s['median_ms'], 2)} "
                     f"| {fmt(s['p99_ms'], 2)} | {s['total']} hits |")
    return "\n".join(lines)
