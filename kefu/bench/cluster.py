"""Scenario ``cluster`` (issue 12): the relay load against cluster mode.

Configurations, each on fresh processes: ``single`` (today's one process with its embedded
Redis), then 1, 2 and 3 cluster nodes on one shared ``redis-server`` (AOF on). With more
than one node, pair *i*'s agent connects to node *i* and its customer to node *i+1*: every
message crosses nodes (inbox stream, pub/sub). Each configuration runs a closed loop and
open loops at ``--rates``; CPU µs per delivered message is summed over the nodes, Redis
apart. Then the takeover time: three nodes (``KEFU_LEASE_TTL_MS``, default 10 s), ``kill
-9`` of the node owning most shards, seconds until every shard is owned again.

On this machine the nodes, Redis and the load generator share two cores: more nodes cannot
add capacity here, only cost (docs/benchmarks.md says what it models for more cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kefu.bench.loadgen import Pool
from kefu.bench.relay import fmt, kefu_tokens, run_phase
from kefu.bench.server import BENCH_ENV, bench_port, children, start_server, stop_server
from kefu.bench.stats import split_pairs
from kefu.testing.cluster import ClusterLab


def _cluster_env(ttl_ms: int) -> dict[str, str]:
    return {**BENCH_ENV, "KEFU_LEASE_TTL_MS": str(ttl_ms)}


def run_config(name: str, nodes: int, pairs: int, seconds: float, rates: list[float],
               workers: int, grace: float) -> dict[str, Any]:
    """One configuration → its phases (``nodes`` 0: single-process mode)."""
    with tempfile.TemporaryDirectory(prefix="kefu-bench-cluster-") as tmp:
        lab: ClusterLab | None = None
        proc = None
        pool: Pool | None = None
        t0 = time.monotonic()
        try:
            if nodes == 0:
                port = bench_port(700)
                proc = start_server(port, Path(tmp))
                pids = [proc.pid]
                kids = children(proc.pid)
                redis_pid = kids[0] if kids else None
                urls = [f"ws://127.0.0.1:{port}/ws"]
            else:
                lab = ClusterLab(Path(tmp), size=nodes, ttl_ms=10_000, shards=64, lab=False,
                                 env=_cluster_env(10_000)).start()
                pids = [n.pid for n in lab.nodes]
                redis_pid = lab.redis.process.pid if lab.redis.process else None
                urls = [n.ws_url for n in lab.nodes]
                port = lab.nodes[0].port
            agents, guests = kefu_tokens(port, pairs)
            slices = split_pairs(pairs, workers)
            pool = Pool(urls, agents, guests, slices)
            pool.call("agents")
            pool.call("guests")
            setup_s = time.monotonic() - t0
            phases = []
            plan = [("closed", 0.0)] + [("open", r) for r in rates]
            for i, (kind, rate) in enumerate(plan):
                phases.append(run_phase(pool, kind, rate, pairs, seconds, grace, f"p{i}",
                                        pids, redis_pid))
                print(f"  {name:10} {phases[-1]['phase']:12} "
                      f"{phases[-1]['delivered_per_s']:>8} msg/s  "
                      f"ack p99 {phases[-1]['ack_ms']['p99']} ms  "
                      f"CPU {phases[-1].get('server_cpu_us_per_msg')} µs/msg  "
                      f"errors {phases[-1]['error_count']}", file=sys.stderr, flush=True)
        finally:
            if pool is not None:
                pool.close()
            if proc is not None:
                stop_server(proc)
            if lab is not None:
                lab.stop()
    return {"config": name, "nodes": nodes, "pairs": pairs, "setup_s": round(setup_s, 1),
            "phases": phases}


def takeover(runs: int, ttl_ms: int) -> list[float]:
    """Seconds from ``kill -9`` of the busiest of three nodes until every shard is owned."""
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="kefu-bench-takeover-") as tmp:
            lab = ClusterLab(Path(tmp), size=3, ttl_ms=ttl_ms, shards=64, lab=False,
                             env=_cluster_env(ttl_ms)).start()
            try:
                counts: dict[int, int] = {}
                for shard in lab.owners():
                    i = lab.node_of(shard)
                    if i is not None:
                        counts[i] = counts.get(i, 0) + 1
                victim = lab.nodes[max(counts, key=lambda i: counts[i])]
                gone = victim.node_id(lab.client(), lab.keys)
                started = time.monotonic()
                victim.kill9()
                lab.wait_owned(ttl_ms / 1000 * 3 + 30, {gone} if gone else set())
                out.append(round(time.monotonic() - started, 2))
                print(f"  takeover {out[-1]} s (TTL {ttl_ms / 1000:g} s)", file=sys.stderr,
                      flush=True)
            finally:
                lab.stop()
    return out


def run(pairs: int, seconds: float, rates: list[float], workers: int, grace: float,
        sizes: list[int], takeover_runs: int, ttl_ms: int) -> dict[str, Any]:
    configs = []
    for nodes in sizes:
        name = "single" if nodes == 0 else f"{nodes} node{'s' if nodes > 1 else ''}"
        print(f"cluster: {name}, {pairs} pairs", file=sys.stderr, flush=True)
        configs.append(run_config(name, nodes, pairs, seconds, rates, workers, grace))
    return {"configs": configs, "takeover_s": takeover(takeover_runs, ttl_ms),
            "ttl_ms": ttl_ms}


def table(r: dict[str, Any]) -> str:
    head = ("| configuration | phase | delivered msg/s | ack p50 ms | ack p99 ms | "
            "deliver p99 ms | nodes' CPU µs/msg | Redis CPU µs/msg | errors |")
    lines = [head, "|" + "---|" * 9]
    for c in r["configs"]:
        for p in c["phases"]:
            lines.append(
                f"| {c['config']} | {p['phase']} | {fmt(p['delivered_per_s'])} | "
                f"{fmt(p['ack_ms']['p50'])} | {fmt(p['ack_ms']['p99'])} | "
                f"{fmt(p['deliver_ms']['p99'])} | {fmt(p.get('server_cpu_us_per_msg'), 0)} | "
                f"{fmt(p.get('redis_cpu_us_per_msg'), 0)} | {p['error_count']} |")
    takes = r.get("takeover_s") or []
    if takes:
        lines.append("")
        lines.append(f"takeover after kill -9 (TTL {r['ttl_ms'] / 1000:g} s): "
                     f"{', '.join(f'{t:.2f} s' for t in takes)}")
    return "\n".join(lines)
