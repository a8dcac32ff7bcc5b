"""Scenarios 1 and 2, ``relay`` and ``baseline``: the same load against the real server and
against the bare Tornado relay ``scripts/baseline_relay.py``.

For each, a fresh server is started — ``relay``: the real kefu server with its own embedded
Redis (AOF on); ``baseline``: the bare relay — then the same multi-process load generator
(``kefu.bench.loadgen``) runs a closed loop, then open loops at fixed offered rates. Each
phase reports delivered msgs/s, send→ack and send→delivery p50/p99/max, errors and the
server's CPU µs per delivered message (``/proc/<pid>/stat`` utime+stime, the embedded
redis-server counted apart). The table shows relay/baseline ratios.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kefu.bench.loadgen import Pool
from kefu.bench.rest import admin_token, create_agents, create_guests
from kefu.bench.server import (
    bench_port,
    children,
    cpu_seconds,
    start_baseline,
    start_server,
    stop_server,
)
from kefu.bench.stats import Histogram, merge_all, planned_sends, split_pairs


def kefu_tokens(port: int, pairs: int) -> tuple[list[str], list[str]]:
    """Create P agents (max_sessions 1) and P guests over REST; return their tokens."""
    base = f"http://127.0.0.1:{port}"
    admin = admin_token(base)
    agents = create_agents(base, admin, [f"bench_kefu_{i}" for i in range(pairs)], 1)
    return agents, [tok for _uid, tok in create_guests(base, pairs)]


def summarise(reports: list[dict[str, Any]], seconds: float, server_cpu: float | None,
              redis_cpu: float | None, extra: dict[str, Any]) -> dict[str, Any]:
    """Merge the workers' reports of one phase into its figures."""
    ack = merge_all([Histogram.from_dict(r["ack"]) for r in reports])
    deliver = merge_all([Histogram.from_dict(r["deliver"]) for r in reports])
    lag = merge_all([Histogram.from_dict(r["lag"]) for r in reports])
    errors: dict[str, int] = {}
    for r in reports:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    sent = sum(r["sent"] for r in reports)
    acked = sum(r["acked"] for r in reports)
    delivered = sum(r["delivered"] for r in reports)
    unacked = sent - acked - sum(errors.values())
    if unacked > 0:
        errors["unacked"] = unacked
    out = {**extra, "seconds": round(seconds, 3), "sent": sent, "acked": acked,
           "delivered": delivered, "delivered_per_s": round(delivered / seconds, 1),
           "ack_ms": ack.summary_ms(), "deliver_ms": deliver.summary_ms(),
           "send_lag_ms": lag.summary_ms(), "errors": errors,
           "error_count": sum(errors.values())}
    if server_cpu is not None:
        out["server_cpu_s"] = round(server_cpu, 3)
        out["server_cpu_us_per_msg"] = (round(server_cpu * 1e6 / delivered, 1)
                                        if delivered else None)
    if redis_cpu is not None:
        out["redis_cpu_s"] = round(redis_cpu, 3)
        out["redis_cpu_us_per_msg"] = round(redis_cpu * 1e6 / delivered, 1) if delivered else None
    return out


def run_phase(pool: Pool, kind: str, rate: float, pairs: int, seconds: float, grace: float,
              tag: str, server_pid: int | list[int] | None,
              redis_pid: int | None) -> dict[str, Any]:
    """One closed or open phase on the pool's connections → its summary (``server_pid``:
    several, a cluster's nodes, whose CPU is summed)."""
    pids = ([] if server_pid is None else [server_pid] if isinstance(server_pid, int)
            else server_pid)

    def server_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    cpu0 = server_cpu() if pids else None
    rcpu0 = cpu_seconds(redis_pid) if redis_pid else None
    t0 = time.monotonic() + 0.3
    if kind == "closed":
        pool.call("closed", tag, t0, seconds)
    else:
        pool.call("open", tag, t0, rate, pairs, seconds, grace)
    time.sleep(0.5)  # deliveries owned by other workers settle
    reports = pool.call("report")
    cpu = server_cpu() - cpu0 if pids and cpu0 is not None else None
    rcpu = cpu_seconds(redis_pid) - rcpu0 if redis_pid and rcpu0 is not None else None
    if kind == "closed":
        elapsed = max(r["last_ack"] for r in reports) - t0
        extra: dict[str, Any] = {"phase": "closed", "offered_per_s": None}
    else:
        elapsed = seconds
        extra = {"phase": f"open {rate:g}/s", "offered_per_s": rate,
                 "planned": planned_sends(rate, pairs, seconds)}
    return summarise(reports, max(elapsed, 1e-9), cpu, rcpu, extra)


def run_scenario(name: str, pairs: int, seconds: float, rates: list[float], workers: int,
                 closed: bool, grace: float) -> dict[str, Any]:
    """``relay`` or ``baseline`` on a fresh server → its phases."""
    port = bench_port(0 if name == "relay" else 500)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        t_setup = time.monotonic()
        proc = start_server(port, Path(tmp)) if name == "relay" else start_baseline(port)
        pool: Pool | None = None
        try:
            if name == "relay":
                agents, guests = kefu_tokens(port, pairs)
                kids = children(proc.pid)
                redis_pid = kids[0] if kids else None
            else:
                agents = [f"kefu-{i}" for i in range(pairs)]
                guests = [f"kehu-{i}" for i in range(pairs)]
                redis_pid = None
            slices = split_pairs(pairs, workers)
            pool = Pool(f"ws://127.0.0.1:{port}/ws", agents, guests, slices)
            pool.call("agents")
            pool.call("guests")
            setup_s = time.monotonic() - t_setup
            phases = []
            plan: list[tuple[str, float]] = ([("closed", 0.0)] if closed else [])
            plan += [("open", r) for r in rates]
            for i, (kind, rate) in enumerate(plan):
                phases.append(run_phase(pool, kind, rate, pairs, seconds, grace, f"p{i}",
                                        proc.pid, redis_pid))
                print(f"  {name:8} {phases[-1]['phase']:12} "
                      f"{phases[-1]['delivered_per_s']:>8} msg/s  "
                      f"ack p99 {phases[-1]['ack_ms']['p99']} ms  "
                      f"errors {phases[-1]['error_count']}", file=sys.stderr, flush=True)
        finally:
            if pool is not None:
                pool.close()
            stop_server(proc)
    return {"scenario": name, "pairs": pairs, "workers": len(slices),
            "setup_s": round(setup_s, 1), "phases": phases}


def fmt(v: Any, nd: int = 1) -> str:
    """A table cell: ``-`` for None, ``nd`` decimals for floats."""
    if v is None:
        return "-"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def table(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table: one row per phase and scenario, with relay/baseline ratios."""
    head = ("| phase | server | delivered msg/s | ratio | ack p50 ms | ack p99 ms | ack max ms "
            "| deliver p50 ms | deliver p99 ms | deliver max ms | CPU µs/msg (redis) | errors |")
    lines = [head, "|" + "---|" * 12]
    base = {p["phase"]: p for p in results.get("baseline", {}).get("phases", [])}
    for name in ("relay", "baseline"):
        if name not in results:
            continue
        for p in results[name]["phases"]:
            b = base.get(p["phase"])
            ratio = "-"
            if name == "relay" and b and b["delivered_per_s"]:
                ratio = f"{p['delivered_per_s'] / b['delivered_per_s']:.2f}×"
            cpu = fmt(p.get("server_cpu_us_per_msg"), 0)
            if p.get("redis_cpu_us_per_msg") is not None:
                cpu += f" ({fmt(p['redis_cpu_us_per_msg'], 0)})"
            a, d = p["ack_ms"], p["deliver_ms"]
            lines.append(f"| {p['phase']} | {name} | {fmt(p['delivered_per_s'])} | {ratio} "
                         f"| {fmt(a['p50'], 2)} | {fmt(a['p99'], 2)} | {fmt(a['max'], 1)} "
                         f"| {fmt(d['p50'], 2)} | {fmt(d['p99'], 2)} | {fmt(d['max'], 1)} "
                         f"| {cpu} | {p['error_count']} |")
    return "\n".join(lines)
