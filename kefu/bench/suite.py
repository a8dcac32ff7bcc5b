"""``scripts/bench`` / ``kefu bench``: the ``relay`` and ``baseline`` scenarios (issue 4).

For each scenario a fresh server is started — ``relay``: the real kefu server with its own
embedded Redis (AOF on), as in ``kefu.bench.relay``; ``baseline``: the bare Tornado relay
``scripts/baseline_relay.py`` — then the same load is driven by the same multi-process
load generator (``kefu.bench.loadgen``): a closed loop, then open loops at fixed offered
rates. Each phase reports delivered msgs/s, send→ack and send→delivery p50/p99/max, errors
and the server's CPU µs per delivered message (``/proc/<pid>/stat`` utime+stime, the
embedded redis-server counted apart). A table with relay/baseline ratios is printed and
the whole result is written as JSON under ``var/bench/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kefu.bench.loadgen import Pool
from kefu.bench.relay import _post, start_server, wait_healthy
from kefu.bench.stats import Histogram, merge_all, planned_sends, split_pairs

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                continue
    return out


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM, then SIGKILL (and its redis-server child) if it has not exited in time."""
    kids = children(proc.pid)
    started = time.monotonic()
    proc.terminate()
    try:
        proc.wait(timeout)
        print(f"  server exited {time.monotonic() - started:.1f} s after SIGTERM",
              file=sys.stderr)
    except subprocess.TimeoutExpired:
        print(f"  server pid {proc.pid} still running {timeout:g} s after SIGTERM: killed",
              file=sys.stderr)
        proc.kill()
        proc.wait(10)
    for pid in kids:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "baseline_relay.py"),
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, 20, "baseline relay")


def kefu_tokens(port: int, pairs: int) -> tuple[list[str], list[str]]:
    """Create P agents (max_sessions 1) and P guests over REST; return their tokens."""
    base = f"http://127.0.0.1:{port}"
    admin = _post(base, "/api/auth/login", {"user_id": "admin", "password": "bench"})["token"]

    def agent(i: int) -> str:
        kid = f"bench_kefu_{i}"
        _post(base, "/api/users/create", {"id": kid, "name": kid, "user_type": "kefu",
                                          "password": "pw", "max_sessions": 1}, admin)
        return _post(base, "/api/auth/login", {"user_id": kid, "password": "pw"})["token"]

    def guest(i: int) -> str:
        return _post(base, "/api/auth/guest", {"name": f"g{i}"})["token"]

    with ThreadPoolExecutor(8) as ex:
        return list(ex.map(agent, range(pairs))), list(ex.map(guest, range(pairs)))


def _summarise(reports: list[dict[str, Any]], seconds: float, server_cpu: float,
               redis_cpu: float | None, extra: dict[str, Any]) -> dict[str, Any]:
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
           "error_count": sum(errors.values()),
           "server_cpu_s": round(server_cpu, 3),
           "server_cpu_us_per_msg": round(server_cpu * 1e6 / delivered, 1) if delivered else None}
    if redis_cpu is not None:
        out["redis_cpu_s"] = round(redis_cpu, 3)
        out["redis_cpu_us_per_msg"] = round(redis_cpu * 1e6 / delivered, 1) if delivered else None
    return out


def run_scenario(name: str, pairs: int, seconds: float, rates: list[float], workers: int,
                 closed: bool, grace: float) -> dict[str, Any]:
    port = 18000 + (os.getpid() + (0 if name == "relay" else 500)) % 1000
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
                tag = f"p{i}"
                cpu0 = cpu_seconds(proc.pid)
                rcpu0 = cpu_seconds(redis_pid) if redis_pid else None
                t0 = time.monotonic() + 0.3
                if kind == "closed":
                    pool.call("closed", tag, t0, seconds)
                else:
                    pool.call("open", tag, t0, rate, pairs, seconds, grace)
                time.sleep(0.5)  # deliveries owned by other workers settle
                reports = pool.call("report")
                cpu = cpu_seconds(proc.pid) - cpu0
                rcpu = cpu_seconds(redis_pid) - rcpu0 if redis_pid and rcpu0 is not None else None
                if kind == "closed":
                    elapsed = max(r["last_ack"] for r in reports) - t0
                    extra = {"phase": "closed", "offered_per_s": None}
                else:
                    elapsed = seconds
                    extra = {"phase": f"open {rate:g}/s", "offered_per_s": rate,
                             "planned": planned_sends(rate, pairs, seconds)}
                phases.append(_summarise(reports, max(elapsed, 1e-9), cpu, rcpu, extra))
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


def _f(v: Any, nd: int = 1) -> str:
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
            cpu = _f(p["server_cpu_us_per_msg"], 0)
            if p.get("redis_cpu_us_per_msg") is not None:
                cpu += f" ({_f(p['redis_cpu_us_per_msg'], 0)})"
            a, d = p["ack_ms"], p["deliver_ms"]
            lines.append(f"| {p['phase']} | {name} | {_f(p['delivered_per_s'])} | {ratio} "
                         f"| {_f(a['p50'], 2)} | {_f(a['p99'], 2)} | {_f(a['max'], 1)} "
                         f"| {_f(d['p50'], 2)} | {_f(d['p99'], 2)} | {_f(d['max'], 1)} "
                         f"| {cpu} | {p['error_count']} |")
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", default=[],
                   help="relay and/or baseline (default: both)")
    p.add_argument("--pairs", type=int, default=500, help="customer–agent pairs (500)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per phase (10)")
    p.add_argument("--rates", default="500,1000,2000",
                   help="open-loop offered rates in msg/s, comma-separated ('' for none)")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes (2)")
    p.add_argument("--no-closed", action="store_true", help="skip the closed loop")
    p.add_argument("--grace", type=float, default=5.0,
                   help="open loop: seconds to wait for the last acks (5)")
    p.add_argument("--out", default="var/bench", help="JSON output directory")
    return p


def main(argv: list[str] | None = None, args: argparse.Namespace | None = None) -> int:
    if args is None:
        args = build_parser().parse_args(argv)
    scenarios = args.scenarios or ["relay", "baseline"]
    bad = [s for s in scenarios if s not in ("relay", "baseline")]
    if bad:
        print(f"unknown scenario(s): {', '.join(bad)} (have: relay, baseline)", file=sys.stderr)
        return 2
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    results: dict[str, dict[str, Any]] = {}
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    for name in scenarios:
        print(f"{name}: {args.pairs} pairs, {args.workers} load-generator worker(s), "
              f"{args.seconds:g} s per phase", file=sys.stderr, flush=True)
        results[name] = run_scenario(name, args.pairs, args.seconds, rates, args.workers,
                                     not args.no_closed, args.grace)
    out = {"started": started, "cpus": os.cpu_count(), "argv": sys.argv[1:],
           "config": {"pairs": args.pairs, "seconds": args.seconds, "rates": rates,
                      "workers": args.workers, "closed": not args.no_closed},
           "results": results}
    print(table(results))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"saved {path}")
    return 0
