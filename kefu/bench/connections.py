"""Scenario 3, ``connections``: P pairs (default 5,000: 10,000 sockets) connected at once,
then an open loop of R msg/s (default 500) spread over all of them.

Set-up is measured apart and printed: creating the users over REST (in parallel; one
create and one login per agent, each a scrypt hash on the server — there is no bulk
path), then connecting. The server's RSS (``VmRSS``) and thread count (``Threads``) are
read from ``/proc/<pid>/status`` before the first socket (in a server restarted after the
users were created, so their password hashing does not inflate the baseline), after every pair is connected
and assigned, and after the load; RSS per connection = (after − before) / sockets, so it
includes everything the connections brought with them (sockets, buffers, actor threads).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kefu.bench.loadgen import Pool
from kefu.bench.relay import fmt, kefu_tokens, run_phase
from kefu.bench.server import bench_port, children, proc_status, start_server, stop_server
from kefu.bench.stats import split_pairs


def per_socket_kib(before: dict[str, int], after: dict[str, int], sockets: int) -> float | None:
    """(RSS after − RSS before) / sockets, in KiB."""
    if sockets <= 0:
        return None
    return round((after["rss_kib"] - before["rss_kib"]) / sockets, 2)


def run(pairs: int, rate: float, seconds: float, workers: int, grace: float) -> dict[str, Any]:
    port = bench_port(100)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        proc = start_server(port, Path(tmp))
        pool: Pool | None = None
        try:
            kids = children(proc.pid)
            redis_pid = kids[0] if kids else None
            t = time.monotonic()
            agents, guests = kefu_tokens(port, pairs)
            users_s = time.monotonic() - t
            print(f"  connections: {2 * pairs} users created over REST in {users_s:.1f} s; "
                  "restarting the server", file=sys.stderr, flush=True)
            # a fresh process: creating users leaves scrypt's 16 MiB buffers in malloc
            # arenas (RSS ~500 MiB) that connections would reuse, hiding their cost.
            # Users and tokens are in Redis and survive the restart.
            stop_server(proc)
            proc = start_server(port, Path(tmp))
            kids = children(proc.pid)
            redis_pid = kids[0] if kids else None
            time.sleep(1.0)  # start-up settles before the baseline RSS is read
            idle = proc_status(proc.pid)
            slices = split_pairs(pairs, workers)
            pool = Pool(f"ws://127.0.0.1:{port}/ws", agents, guests, slices)
            t = time.monotonic()
            pool.call("agents")
            agents_s = time.monotonic() - t
            pool.call("guests")
            connect_s = time.monotonic() - t
            time.sleep(1.0)  # let the server settle (writes, GC) before reading RSS
            connected = proc_status(proc.pid)
            print(f"  connections: {2 * pairs} sockets connected and assigned in "
                  f"{connect_s:.1f} s; RSS {idle['rss_kib']} → {connected['rss_kib']} KiB, "
                  f"threads {idle['threads']} → {connected['threads']}",
                  file=sys.stderr, flush=True)
            phase = run_phase(pool, "open", rate, pairs, seconds, grace, "c0", proc.pid,
                              redis_pid)
            loaded = proc_status(proc.pid)
            redis = proc_status(redis_pid) if redis_pid else None
        finally:
            if pool is not None:
                pool.close()
            stop_server(proc)
    sockets = 2 * pairs
    return {"scenario": "connections", "pairs": pairs, "sockets": sockets, "rate": rate,
            "seconds": seconds, "workers": len(slices),
            "setup": {"users_s": round(users_s, 1), "agents_connect_s": round(agents_s, 1),
                      "connect_s": round(connect_s, 1)},
            "server": {"idle": idle, "connected": connected, "after_load": loaded,
                       "rss_per_socket_kib": per_socket_kib(idle, connected, sockets),
                       "rss_per_socket_after_load_kib": per_socket_kib(idle, loaded, sockets)},
            "redis": redis, "phase": phase}


def table(r: dict[str, Any]) -> str:
    p, s = r["phase"], r["server"]
    a, d = p["ack_ms"], p["deliver_ms"]
    rows = [
        ("sockets connected (pairs)", f"{r['sockets']} ({r['pairs']})"),
        ("set-up: users over REST / connect+assign", f"{r['setup']['users_s']} s / "
                                                     f"{r['setup']['connect_s']} s"),
        ("offered / delivered msg/s", f"{fmt(r['rate'])} / {fmt(p['delivered_per_s'])}"),
        ("send→ack p50 / p99 / max ms", f"{fmt(a['p50'], 2)} / {fmt(a['p99'], 2)} / "
                                        f"{fmt(a['max'], 1)}"),
        ("send→delivery p50 / p99 / max ms", f"{fmt(d['p50'], 2)} / {fmt(d['p99'], 2)} / "
                                             f"{fmt(d['max'], 1)}"),
        ("server RSS idle → connected → after load (MiB)",
         " → ".join(f"{s[k]['rss_kib'] / 1024:.0f}" for k in ("idle", "connected", "after_load"))),
        ("server RSS per socket (KiB; after load)",
         f"{fmt(s['rss_per_socket_kib'], 1)} ({fmt(s['rss_per_socket_after_load_kib'], 1)})"),
        ("server threads idle → connected → after load",
         " → ".join(str(s[k]["threads"]) for k in ("idle", "connected", "after_load"))),
        ("server CPU µs/msg (redis)", f"{fmt(p.get('server_cpu_us_per_msg'), 0)} "
                                      f"({fmt(p.get('redis_cpu_us_per_msg'), 0)})"),
        ("errors", f"{p['error_count']} {p['errors'] or ''}".strip()),
    ]
    return "\n".join(["| connections | value |", "|---|---|"]
                     + [f"| {k} | {v} |" for k, v in rows])
