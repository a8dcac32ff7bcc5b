"""``scripts/chaos --cluster``: the cluster drills (issue 12; docs/cluster.md, "Drills").

Three nodes on one Redis (``kefu/testing/cluster.py``); agents and customers over real
WebSockets, each connecting to a random node at every (re)connect, so most pairs talk
across nodes. ``--messages`` messages at ``--rate`` msg/s; at a seeded moment the fault:

- ``kill``: ``kill -9`` the node owning the most shards; it comes back ``restart_after``
  seconds after every shard is owned again (the takeover time is measured);
- ``kill-dispatcher``: the same for the node running the dispatcher;
- ``stop``: ``SIGSTOP`` the dispatcher's node for 2 TTLs in the middle of an assignment
  burst (new customers connected to it ask for service; the stop comes as the first is
  assigned), then ``SIGCONT``: the woken node must be fenced (its scripts refuse at least
  one write), nothing double-assigned, and it must take shards again with new epochs;
- ``rolling``: SIGTERM every node in turn (each must exit 0 after its drain) and start it
  again once its shards are owned elsewhere;
- ``pubsub``: ``CLIENT KILL TYPE pubsub`` on Redis: every node detects it, resubscribes and
  makes its clients reconnect and resume.

Checks read Redis: the ledger (lost, duplicated, gaps, unacked, missed, redelivered), the
routing invariants after the run *and* sampled every 0.5 s during it, epochs strictly
increasing per shard, every inbox drained, fenced writes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from kefu.drills import rest
from kefu.drills.client import DrillClient
from kefu.drills.cluster_checks import epoch_violations, fenced_writes, inbox_violations
from kefu.drills.crowd import connect_crowd, settle
from kefu.drills.invariants import violations
from kefu.drills.ledger import Figures, tally
from kefu.drills.series import run_series
from kefu.persistence.keys import Keys
from kefu.testing.cluster import ADMIN_PASSWORD, ClusterLab, Node, SharedRedis

SCENARIOS = ("kill", "kill-dispatcher", "stop", "rolling", "pubsub")
SAMPLE_SECONDS = 0.5


@dataclass
class ClusterDrillConfig:
    scenario: str = "kill"
    seed: int = 1
    messages: int = 3000
    rate: float = 200.0
    kehu: int = 50
    kefu: int = 10
    nodes: int = 3
    ttl_ms: int = 3000
    shards: int = 16
    burst: int = 30  # stop: new customers asking for service on the stopped node
    restart_after: float = 5.0
    settle_seconds: float = 60.0
    keep: bool = False


@dataclass
class ClusterRunResult:
    scenario: str
    seed: int
    figures: Figures = field(default_factory=Figures)
    invariants: list[str] = field(default_factory=list)  # after the run
    sampled: list[str] = field(default_factory=list)  # seen while it ran
    epochs: list[str] = field(default_factory=list)
    inbox: list[str] = field(default_factory=list)
    fenced: dict[str, int] = field(default_factory=dict)
    fault_at: float = 0.0
    takeover: float = 0.0  # seconds from the fault until every shard was owned again
    rejoined: bool = False  # stop: the woken node took shards again, with new epochs
    exit_codes: list[int | None] = field(default_factory=list)  # rolling: each SIGTERM
    events: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_dir: str = ""
    completed: bool = False

    @property
    def problems(self) -> list[str]:
        out = [f"{k}={getattr(self.figures, k)}" for k in Figures.FAILURES
               if getattr(self.figures, k)]
        out += self.invariants + self.sampled + self.epochs + self.inbox
        if self.scenario == "stop" and not sum(self.fenced.values()):
            out.append("the woken node wrote nothing fenced")
        if self.scenario == "rolling" and any(c != 0 for c in self.exit_codes):
            out.append(f"exit codes {self.exit_codes}")
        return out

    @property
    def ok(self) -> bool:
        return self.completed and not self.problems

    def line(self) -> str:
        f = self.figures
        return (f"cluster {self.scenario:<15} seed={self.seed} fault@{self.fault_at:4.1f}s "
                f"takeover={self.takeover:4.2f}s | attempted {f.attempted} acked {f.acked} "
                f"stored {f.stored} lost {f.lost} duplicated {f.duplicated} gaps {f.gaps} "
                f"unacked {f.unacked} missed {f.missed} redelivered {f.redelivered} | "
                f"invariants {len(self.invariants)}+{len(self.sampled)} sampled, epochs "
                f"{len(self.epochs)}, inbox {len(self.inbox)}, fenced {sum(self.fenced.values())}"
                f" | resends {f.resends} reconnects {f.reconnects} errors "
                f"{json.dumps(f.errors, sort_keys=True)} | {self.seconds:.1f}s "
                f"{'OK' if self.ok else 'FAIL ' + '; '.join(self.problems[:5])}")


class Drill:
    def __init__(self, cfg: ClusterDrillConfig, root: Path) -> None:
        self.cfg, self.root = cfg, root
        self.lab = self.make_lab()
        self.res = ClusterRunResult(cfg.scenario, cfg.seed, data_dir=str(root))
        self.keys = Keys()
        self.rng = random.Random(cfg.seed)
        self.kefu_caps: dict[str, int] = {}
        self.kehu_ids: list[str] = []
        self.clients: list[DrillClient] = []

    def make_lab(self, redis: SharedRedis | None = None, **env: str) -> ClusterLab:
        cfg = self.cfg
        return ClusterLab(self.root, size=cfg.nodes, ttl_ms=cfg.ttl_ms, shards=cfg.shards,
                          redis=redis, env={"KEFU_AGENT_GRACE_SECONDS": "600",
                                            "KEFU_KEHU_MSG_RATE_PER_MINUTE": "0", **env})

    @property
    def ws_urls(self) -> list[str]:
        return [n.ws_url for n in self.lab.nodes]

    # --- set-up ---------------------------------------------------------------------------

    def setup(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]],
                             list[tuple[str, str]]]:
        """Agents, customers and the burst's customers → (kefu, kehu, burst) id/token."""
        cfg, bases = self.cfg, self.lab.bases
        admin = rest.login(bases[0], "admin", ADMIN_PASSWORD)
        per_kefu = math.ceil((cfg.kehu + cfg.burst * 0.7) / cfg.kefu)
        kefu_ids = [f"kefu_{cfg.seed}_{i:02d}" for i in range(cfg.kefu)]
        with ThreadPoolExecutor(4) as pool:
            kefu = list(zip(kefu_ids, pool.map(
                lambda k: rest.create_kefu(self.rng.choice(bases), admin, k, per_kefu),
                kefu_ids), strict=True))
            kehu = list(pool.map(lambda i: rest.guest(bases[i % len(bases)], f"客户{i}"),
                                 range(cfg.kehu)))
            burst = list(pool.map(lambda i: rest.guest(bases[0], f"新客{i}"),
                                  range(cfg.burst if cfg.scenario == "stop" else 0)))
        self.kefu_caps = dict.fromkeys(kefu_ids, per_kefu)
        self.kehu_ids = [k for k, _t in kehu] + [k for k, _t in burst]
        return kefu, kehu, burst

    # --- the run ----------------------------------------------------------------------------

    async def run(self) -> None:
        cfg, res = self.cfg, self.res
        kefu, kehu, burst = await asyncio.get_running_loop().run_in_executor(None, self.setup)
        crowd = await connect_crowd(self.ws_urls, kefu, kehu, self.rng)
        clients, pairs = crowd.clients, crowd.pairs
        self.clients = clients
        stop_sampling = asyncio.Event()
        sampler = asyncio.ensure_future(self._sample(stop_sampling))
        try:
            duration = cfg.messages / cfg.rate
            res.fault_at = self.rng.uniform(0.15, 0.5) * duration
            attempted: set[str] = set()
            t0 = time.monotonic()
            fault = asyncio.ensure_future(self._at(t0 + res.fault_at, self._fault(burst)))
            for i in range(cfg.messages):
                sid, c, k = self.rng.choice(pairs)
                delay = t0 + i / cfg.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                cmid = f"c{cfg.seed}-{i}"
                attempted.add(cmid)
                if self.rng.random() < 0.4:
                    k.send(cmid, f"客服回复 {i}", session_id=sid)
                else:
                    c.send(cmid, f"客户消息 {i}")
            await fault
            await settle(self.lab.client, clients, [p[0] for p in pairs], cfg.settle_seconds)
            await self._drained(30.0)
            stop_sampling.set()
            await sampler
            await crowd.close()
            await asyncio.get_running_loop().run_in_executor(
                None, self._check, clients, [p[0] for p in pairs], attempted)
        finally:
            stop_sampling.set()
            for t in crowd.tasks:
                t.cancel()

    async def _at(self, when: float, coro: Any) -> None:
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        await coro

    async def _sample(self, done: asyncio.Event) -> None:
        """The invariants, every 0.5 s while the drill runs (a transient break counts)."""
        loop = asyncio.get_running_loop()
        r = self.lab.client()
        seen: set[str] = set()
        try:
            while not done.is_set():
                try:
                    found = await loop.run_in_executor(None, violations, r, self.keys,
                                                       self.kehu_ids, self.kefu_caps)
                except (redis.RedisError, OSError):  # (a failover drill: the primary moves)
                    r.close()
                    r = self.lab.client()
                    found = []
                for v in found:
                    if v not in seen:
                        seen.add(v)
                        self.res.sampled.append(f"sampled: {v}")
                try:
                    await asyncio.wait_for(done.wait(), SAMPLE_SECONDS)
                except TimeoutError:
                    pass
        finally:
            r.close()

    async def _drained(self, timeout: float) -> None:
        """Wait (bounded) until every inbox is drained (acks are asynchronous)."""
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        r = self.lab.client()
        try:
            while time.monotonic() < deadline:
                if not await loop.run_in_executor(None, inbox_violations, r, self.keys,
                                                  self.cfg.shards):
                    return
                await asyncio.sleep(0.1)  # acks in flight
        finally:
            r.close()

    # --- faults ---------------------------------------------------------------------------

    async def _fault(self, burst: list[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()

        def run(fn: Any, *args: Any) -> Any:
            return loop.run_in_executor(None, fn, *args)

        scenario, lab, res = self.cfg.scenario, self.lab, self.res
        if scenario in ("kill", "kill-dispatcher"):
            victim = self._victim(dispatcher=scenario == "kill-dispatcher")
            gone = victim.node_id(lab.client(), self.keys)
            started = time.monotonic()
            await run(victim.kill9)
            res.events.append(f"killed node :{victim.port}")
            await run(lab.wait_owned, 60.0, {gone} if gone else set())
            res.takeover = time.monotonic() - started
            await asyncio.sleep(self.cfg.restart_after)
            await run(victim.start)
            res.events.append("restarted")
        elif scenario == "stop":
            await self._stop_dispatcher_node(burst)
        elif scenario == "rolling":
            for node in lab.nodes:
                gone = node.node_id(lab.client(), self.keys)
                res.exit_codes.append(await run(node.terminate, 30.0))
                await run(lab.wait_owned, 60.0, {gone} if gone else set())
                await run(node.start)
                res.events.append(f"rolled :{node.port}")
        elif scenario == "pubsub":
            killed = await run(lambda: lab.client().client_kill_filter(_type="pubsub"))
            res.events.append(f"killed {killed} pubsub connections")
        else:
            raise ValueError(f"scenario must be one of {SCENARIOS}")

    def _victim(self, dispatcher: bool) -> Node:
        if dispatcher:
            i = self.lab.node_of("D")
        else:
            counts: dict[int, int] = {}
            for shard in self.lab.owners():
                j = self.lab.node_of(shard)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            i = max(counts, key=lambda j: counts[j]) if counts else None
        assert i is not None, "no owner found"
        return self.lab.nodes[i]

    async def _stop_dispatcher_node(self, burst: list[tuple[str, str]]) -> None:
        """SIGSTOP the dispatcher's node while new customers on it ask for service."""
        lab, res, ttl = self.lab, self.res, self.cfg.ttl_ms / 1000
        victim = self._victim(dispatcher=True)
        newcomers = [DrillClient(victim.ws_url, tok, uid, "kehu", random.Random(i))
                     for i, (uid, tok) in enumerate(burst)]
        tasks = [asyncio.ensure_future(c.run()) for c in newcomers]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in newcomers)), 30)
            gone = victim.node_id(lab.client(), self.keys)
            for c in newcomers:  # the burst: stopped while its dispatcher works through it
                c.frame(type="request_service")
            first = [asyncio.ensure_future(c.assigned.wait()) for c in newcomers]
            await asyncio.wait(first, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            for f in first:
                f.cancel()
            started = time.monotonic()
            victim.sigstop()
            res.events.append(f"stopped node :{victim.port} "
                              f"({sum(c.assigned.is_set() for c in newcomers)} of the burst "
                              "assigned before)")
            await asyncio.get_running_loop().run_in_executor(
                None, lab.wait_owned, 60.0, {gone} if gone else set())
            res.takeover = time.monotonic() - started
            await asyncio.sleep(max(0.0, 2 * ttl - (time.monotonic() - started)))
            woke = time.time()
            victim.sigcont()
            res.events.append("continued")
            res.rejoined = await asyncio.get_running_loop().run_in_executor(
                None, self._rejoined, gone, woke, 10 * ttl + 10)
        finally:
            for c in newcomers:
                await c.stop()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _rejoined(self, node: str | None, since: float, timeout: float) -> bool:
        """Did ``node`` acquire a shard (a new epoch) after ``since``?"""
        r = self.lab.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry_id, fields in r.xrange(self.keys.lease_log, min=f"{int(since * 1000)}-0"):
                if fields["node"] == node and entry_id:
                    return True
            time.sleep(0.2)  # polling Redis
        return False

    # --- the checks -------------------------------------------------------------------------

    def _check(self, clients: list[DrillClient], sids: list[str], attempted: set[str]) -> None:
        r, res = self.lab.client(), self.res
        try:
            res.figures = tally(r, self.keys, clients, sids, attempted)
            res.invariants = violations(r, self.keys, self.kehu_ids, self.kefu_caps)
            res.epochs = epoch_violations(r, self.keys)
            res.inbox = inbox_violations(r, self.keys, self.cfg.shards)
            res.fenced = fenced_writes(r, self.keys)
        finally:
            r.close()


def run_one(cfg: ClusterDrillConfig, root: Path | None = None) -> ClusterRunResult:
    """One scenario, one seed: start the cluster, drive, fault, settle, count. Blocking."""
    if cfg.scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}")
    data = Path(tempfile.mkdtemp(prefix=f"cluster-{cfg.scenario}-{cfg.seed}-", dir=root))
    return drive(Drill(cfg, data), data)


def drive(drill: Drill, data: Path) -> ClusterRunResult:
    """Start ``drill``'s lab, run it, stop every process; its data is removed unless the
    run failed or ``keep`` was asked. Blocking (the failover drill's too)."""
    cfg = drill.cfg
    started = time.monotonic()
    try:
        drill.lab.start()
        asyncio.run(drill.run())
        drill.res.completed = True
    finally:
        for node in drill.lab.nodes:
            if node.stopped:
                node.sigcont()
        codes = [n.terminate(30.0) for n in drill.lab.nodes]
        drill.res.events.append(f"final exit codes {codes}")
        drill.lab.stop()
        drill.res.seconds = time.monotonic() - started
        if not cfg.keep and drill.res.ok:
            shutil.rmtree(data, ignore_errors=True)
    return drill.res


def main(args: Any) -> int:
    """``scripts/chaos --cluster`` (the arguments of ``kefu/drills/chaos.py``)."""
    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    results = run_series((functools.partial(run_one, ClusterDrillConfig(
        scenario=scenario, seed=seed, messages=args.messages, rate=args.rate, kehu=args.kehu,
        kefu=args.kefu, keep=args.keep)) for scenario in scenarios for seed in seeds),
        "cluster chaos")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{**asdict(r), "figures": r.figures.as_dict(), "ok": r.ok} for r in results],
            indent=2, default=str))
    return 0 if all(r.ok for r in results) else 1


