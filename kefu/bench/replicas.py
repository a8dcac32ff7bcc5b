"""Scenario ``replicas``: what ``KEFU_ACK_REPLICAS=1`` costs per message and on latency.

Two configurations, each on fresh processes: one ``kefu serve`` on Redis under Sentinel
(:class:`~kefu.testing.sentinel.SentinelLab`: a primary with AOF on, one replica, three
sentinels) with ``KEFU_ACK_REPLICAS=0`` (``sentinel-ack0``) and with ``=1``
(``sentinel-ack1``: every append batch ends with ``INCR kefu:replmark`` + ``WAIT 1
KEFU_ACK_REPLICAS_TIMEOUT_MS``, and the acks and deliveries of the batch leave only once
the replica has it). Each runs the relay load: a closed loop, then open loops at
``--rates``. The configurations run interleaved for ``--runs`` rounds (ack0, ack1, ack0,
ack1, …); the table shows the median of each figure over the rounds, then the difference
ack1 − ack0.

Per phase: delivered msg/s, send→ack and send→delivery p50/p99, CPU µs per delivered
message of the server, of the primary ``redis-server`` and of the replica's, and of this
driver process — whose only busy threads are the lab's TCP relay
(:class:`~kefu.testing.link.HoldableLink`) the replica replicates through. That relay is an
extra hop (and Python threads) on the replication stream and on the replica's ``REPLCONF
ACK``, which ``WAIT`` waits for: a production replica on its own connection would answer a
little sooner. The lab's sentinels get ``down-after-milliseconds`` 5 s (no failover from a
busy machine) and a failover timeout of an hour (Sentinel would otherwise repoint the
replica past the relay after 60 s); after each configuration the run checks and records
that the primary never changed and the replica still went through the relay, and the
server's count of waits that fell short (``unconfirmed``, from admin health).

On this machine the server, Redis, the replica, the sentinels and the load generator share
two cores.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from kefu.bench.loadgen import Pool
from kefu.bench.relay import fmt, kefu_tokens, run_phase
from kefu.bench.rest import admin_token
from kefu.bench.server import bench_port, cpu_seconds, start_server, stop_server
from kefu.bench.stats import split_pairs
from kefu.testing.processes import health
from kefu.testing.sentinel import SentinelLab

CONFIGS = (("sentinel-ack0", 0), ("sentinel-ack1", 1))
DOWN_AFTER_MS = 5000
FAILOVER_TIMEOUT_MS = 3_600_000  # the replica stays behind the relay for the whole run

# the per-phase figures whose median the table shows: (name, how to read it)
_FIGURES: dict[str, Any] = {
    "delivered_per_s": lambda p: p["delivered_per_s"],
    "ack_p50": lambda p: p["ack_ms"]["p50"],
    "ack_p99": lambda p: p["ack_ms"]["p99"],
    "deliver_p50": lambda p: p["deliver_ms"]["p50"],
    "deliver_p99": lambda p: p["deliver_ms"]["p99"],
    "server_cpu_us_per_msg": lambda p: p.get("server_cpu_us_per_msg"),
    "redis_cpu_us_per_msg": lambda p: p.get("redis_cpu_us_per_msg"),
    "replica_cpu_us_per_msg": lambda p: p.get("replica_cpu_us_per_msg"),
    "driver_cpu_us_per_msg": lambda p: p.get("driver_cpu_us_per_msg"),
}


def _per_msg(cpu: float, delivered: int) -> float | None:
    return round(cpu * 1e6 / delivered, 1) if delivered else None


def _checks(lab: SentinelLab, port: int) -> dict[str, Any]:
    """After the phases: is the original primary still the primary, does the replica still
    go through the relay, and what the server's health says of Redis."""
    out: dict[str, Any] = {}
    try:
        out["primary_unchanged"] = lab.current_primary()[1] == lab.primary_port
    except redis.RedisError as exc:
        out["primary_unchanged"] = f"unknown: {exc}"
    client = lab.replica_client(socket_timeout=2)
    try:
        out["replica_via_link"] = (
            int(client.info("replication").get("master_port", 0)) == lab.link_port)
    except redis.RedisError as exc:
        out["replica_via_link"] = f"unknown: {exc}"
    finally:
        client.close()
    base = f"http://127.0.0.1:{port}"
    _status, data = health(base, timeout=5, token=admin_token(base))
    r = data.get("redis") or {}
    out.update({k: r.get(k) for k in ("ack_replicas", "unconfirmed", "failovers", "primary")})
    return out


def run_config(name: str, ack: int, pairs: int, seconds: float, rates: list[float],
               workers: int, grace: float) -> dict[str, Any]:
    """One configuration on fresh processes (a Sentinel lab, one ``kefu serve``) → its
    phases."""
    with tempfile.TemporaryDirectory(prefix="kefu-bench-replicas-") as tmp:
        lab: SentinelLab | None = None
        proc = None
        pool: Pool | None = None
        t0 = time.monotonic()
        try:
            lab = SentinelLab(Path(tmp) / "lab", down_after_ms=DOWN_AFTER_MS,
                              failover_timeout_ms=FAILOVER_TIMEOUT_MS).start(timeout=60)
            assert lab.primary.proc is not None and lab.replica is not None
            assert lab.replica.proc is not None
            redis_pid, replica_pid = lab.primary.proc.pid, lab.replica.proc.pid
            port = bench_port(800)
            proc = start_server(port, Path(tmp) / "kefu", env={
                "KEFU_REDIS_SENTINELS": lab.sentinels_env,
                "KEFU_REDIS_SENTINEL_MASTER": lab.master_name,
                "KEFU_ACK_REPLICAS": str(ack)})
            agents, guests = kefu_tokens(port, pairs)
            slices = split_pairs(pairs, workers)
            pool = Pool(f"ws://127.0.0.1:{port}/ws", agents, guests, slices)
            pool.call("agents")
            pool.call("guests")
            setup_s = time.monotonic() - t0
            phases = []
            plan = [("closed", 0.0)] + [("open", r) for r in rates]
            for i, (kind, rate) in enumerate(plan):
                rep0, drv0 = cpu_seconds(replica_pid), cpu_seconds(os.getpid())
                p = run_phase(pool, kind, rate, pairs, seconds, grace, f"p{i}", proc.pid,
                              redis_pid)
                p["replica_cpu_us_per_msg"] = _per_msg(cpu_seconds(replica_pid) - rep0,
                                                       p["delivered"])
                p["driver_cpu_us_per_msg"] = _per_msg(cpu_seconds(os.getpid()) - drv0,
                                                      p["delivered"])
                phases.append(p)
                print(f"  {name:13} {p['phase']:12} {p['delivered_per_s']:>8} msg/s  "
                      f"ack p50/p99 {p['ack_ms']['p50']}/{p['ack_ms']['p99']} ms  "
                      f"CPU {p.get('server_cpu_us_per_msg')} µs/msg "
                      f"(redis {p.get('redis_cpu_us_per_msg')})  "
                      f"errors {p['error_count']}", file=sys.stderr, flush=True)
            checks = _checks(lab, port)
            print(f"  {name:13} checks {checks}", file=sys.stderr, flush=True)
        finally:
            if pool is not None:
                pool.close()
            if proc is not None:
                stop_server(proc)
            if lab is not None:
                lab.stop()
    return {"config": name, "ack_replicas": ack, "pairs": pairs,
            "setup_s": round(setup_s, 1), "checks": checks, "phases": phases}


def _median(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(statistics.median(vals)), 2) if vals else None


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One configuration's rounds → per phase, the median of each figure (errors summed)."""
    out = []
    for i, first in enumerate(runs[0]["phases"]):
        ps = [r["phases"][i] for r in runs if i < len(r["phases"])]
        row: dict[str, Any] = {"phase": first["phase"], "rounds": len(ps),
                               "errors": sum(p["error_count"] for p in ps)}
        for key, get in _FIGURES.items():
            row[key] = _median([get(p) for p in ps])
            row[key + "_runs"] = [get(p) for p in ps]
        out.append(row)
    return out


def differences(med: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """ack1 − ack0 per phase, from the medians: CPU µs/msg (and %), p50/p99 ms."""
    base = {p["phase"]: p for p in med.get("sentinel-ack0", [])}
    out = []
    for p in med.get("sentinel-ack1", []):
        b = base.get(p["phase"])
        if b is None:
            continue
        row: dict[str, Any] = {"phase": p["phase"]}
        for key in ("server_cpu_us_per_msg", "redis_cpu_us_per_msg", "delivered_per_s",
                    "ack_p50", "ack_p99", "deliver_p99"):
            a1, a0 = p[key], b[key]
            if a1 is None or a0 is None:
                row[key] = row[key + "_pct"] = None
                continue
            row[key] = round(a1 - a0, 2)
            row[key + "_pct"] = round((a1 - a0) / a0 * 100, 1) if a0 else None
        s1, s0 = p["server_cpu_us_per_msg"], b["server_cpu_us_per_msg"]
        r1, r0 = p["redis_cpu_us_per_msg"], b["redis_cpu_us_per_msg"]
        if None not in (s1, s0, r1, r0):
            both0 = s0 + r0
            row["server_redis_cpu_us_per_msg"] = round(s1 + r1 - both0, 2)
            row["server_redis_cpu_us_per_msg_pct"] = (
                round((s1 + r1 - both0) / both0 * 100, 1) if both0 else None)
        out.append(row)
    return out


def run(pairs: int, seconds: float, rates: list[float], workers: int, grace: float,
        runs: int) -> dict[str, Any]:
    """``runs`` rounds of ack0 then ack1, each on fresh processes → every run, the medians
    and the differences."""
    every: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in CONFIGS}
    started = time.monotonic()
    for rnd in range(1, runs + 1):
        for name, ack in CONFIGS:
            print(f"replicas: round {rnd}/{runs}, {name}, {pairs} pairs, {seconds:g} s per "
                  f"phase ({time.monotonic() - started:.0f} s in)", file=sys.stderr,
                  flush=True)
            every[name].append(run_config(name, ack, pairs, seconds, rates, workers, grace))
    med = {name: medians(rs) for name, rs in every.items()}
    return {"pairs": pairs, "seconds": seconds, "rates": rates, "runs": runs,
            "down_after_ms": DOWN_AFTER_MS,
            "ack_replicas_timeout_ms": int(os.environ.get("KEFU_ACK_REPLICAS_TIMEOUT_MS",
                                                          "1000")),
            "elapsed_s": round(time.monotonic() - started, 1),
            "configs": every, "medians": med, "differences": differences(med)}


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:+.1f} %"


def _signed(v: Any, nd: int = 1) -> str:
    return "-" if v is None else f"{v:+.{nd}f}"


def table(r: dict[str, Any]) -> str:
    head = ("| configuration | phase | delivered msg/s | ack p50 ms | ack p99 ms | "
            "deliver p99 ms | server CPU µs/msg | primary Redis CPU µs/msg | "
            "replica CPU µs/msg | relay (driver) CPU µs/msg | errors |")
    lines = [f"medians of {r['runs']} round(s), {r['pairs']} pairs, {r['seconds']:g} s per "
             "phase", "", head, "|" + "---|" * 11]
    for name, rows in r["medians"].items():
        for p in rows:
            lines.append(
                f"| {name} | {p['phase']} | {fmt(p['delivered_per_s'])} | "
                f"{fmt(p['ack_p50'], 2)} | {fmt(p['ack_p99'], 2)} | "
                f"{fmt(p['deliver_p99'], 2)} | {fmt(p['server_cpu_us_per_msg'], 0)} | "
                f"{fmt(p['redis_cpu_us_per_msg'], 0)} | "
                f"{fmt(p['replica_cpu_us_per_msg'], 0)} | "
                f"{fmt(p['driver_cpu_us_per_msg'], 0)} | {p['errors']} |")
    lines += ["", "ack1 − ack0 (medians)", "",
              "| phase | server CPU µs/msg | primary Redis CPU µs/msg | server + Redis | "
              "delivered msg/s | ack p50 ms | ack p99 ms | deliver p99 ms |",
              "|" + "---|" * 8]
    for d in r["differences"]:
        lines.append(
            f"| {d['phase']} | {_signed(d['server_cpu_us_per_msg'])} "
            f"({_pct(d['server_cpu_us_per_msg_pct'])}) | "
            f"{_signed(d['redis_cpu_us_per_msg'])} ({_pct(d['redis_cpu_us_per_msg_pct'])}) | "
            f"{_signed(d.get('server_redis_cpu_us_per_msg'))} "
            f"({_pct(d.get('server_redis_cpu_us_per_msg_pct'))}) | "
            f"{_signed(d['delivered_per_s'])} ({_pct(d['delivered_per_s_pct'])}) | "
            f"{_signed(d['ack_p50'], 2)} | {_signed(d['ack_p99'], 2)} | "
            f"{_signed(d['deliver_p99'], 2)} |")
    lines += ["", "per round (closed msg/s; ack p99 ms of each phase); checks"]
    for name, runs in r["configs"].items():
        for i, c in enumerate(runs, 1):
            p99s = " / ".join(fmt(p["ack_ms"]["p99"], 2) for p in c["phases"])
            lines.append(f"- {name} round {i}: {fmt(c['phases'][0]['delivered_per_s'])} "
                         f"msg/s; p99 {p99s}; {c['checks']}")
    return "\n".join(lines)
