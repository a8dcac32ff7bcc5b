"""``scripts/chaos``: the server-crash drill (issue 5, drill 1).

For each seed and mode: start the real server (embedded Redis, AOF everysec) in a fresh
data directory; connect ``--kefu`` agents and ``--kehu`` customers over real WebSockets and
have every customer assigned; send ``--messages`` messages at ``--rate`` msg/s (a seeded
random session each, from its kehu or its kefu); at a seeded random moment ``kill -9``

- ``server``: the server process (its Redis child then stops), and start it again on the
  same data directory and port;
- ``redis``: the embedded ``redis-server`` only; the server must reap it, start it again
  on its AOF and resume by itself (no restart of the server, nothing done by the drill);
- ``both``: Redis and the server at once, then start the server again.

The clients (:mod:`kefu.drills.client`) reconnect with backoff, resend what was not acked
with the same ``client_msg_id`` and ``resume``. When every message is acked and delivered
(or the deadline passes) the figures are taken against Redis (:mod:`kefu.drills.ledger`).
The exit status is 1 if any run lost, duplicated, skipped a ``seq``, left a message
unacked or a delivery missing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.drills import cluster, failover, rest
from kefu.drills.crowd import connect_crowd, settle
from kefu.drills.ledger import Figures, tally
from kefu.drills.proc import ADMIN_PASSWORD, DRILL_ENV, DrillServer
from kefu.drills.series import run_series
from kefu.persistence.keys import Keys
from kefu.testing.processes import wait_health

MODES = ("server", "redis", "both")


@dataclass
class ChaosConfig:
    seed: int = 1
    mode: str = "server"
    messages: int = 10_000
    rate: float = 200.0
    kehu: int = 50
    kefu: int = 10
    kefu_share: float = 0.4  # share of messages the agents send
    settle_seconds: float = 60.0  # after the last send: all acked and delivered by then
    keep: bool = False


@dataclass
class RunResult:
    seed: int
    mode: str
    figures: Figures
    kill_at: float = 0.0  # seconds into the traffic
    down: float = 0.0  # seconds between the kill and the restart
    back: float = 0.0  # restart → healthy (server start-up, or Redis back → health 200)
    seconds: float = 0.0
    tracebacks: int = 0  # in the server's log (informative)
    data_dir: str = ""
    events: list[str] = field(default_factory=list)
    completed: bool = False

    @property
    def ok(self) -> bool:
        return self.completed and self.figures.ok

    def line(self) -> str:
        f = self.figures
        return (f"seed={self.seed} mode={self.mode:<6} kill@{self.kill_at:5.1f}s "
                f"down={self.down:4.2f}s back={self.back:4.2f}s | attempted {f.attempted} "
                f"acked {f.acked} stored {f.stored} lost {f.lost} duplicated {f.duplicated} "
                f"gaps {f.gaps} unacked {f.unacked} missed {f.missed} "
                f"redelivered {f.redelivered} | resends {f.resends} reconnects {f.reconnects} "
                f"errors {json.dumps(f.errors, sort_keys=True)} | {self.seconds:.1f}s "
                f"{'OK' if self.ok else 'FAIL'}")


def _setup(srv: DrillServer, cfg: ChaosConfig) -> tuple[list[tuple[str, str]],
                                                         list[tuple[str, str]]]:
    """Create the agents and guests → ([(kefu_id, token)], [(kehu_id, token)])."""
    admin = rest.login(srv.base, "admin", ADMIN_PASSWORD)
    per_kefu = math.ceil(cfg.kehu / cfg.kefu)
    with ThreadPoolExecutor(4) as pool:
        kefu_ids = [f"kefu_{cfg.seed}_{i:02d}" for i in range(cfg.kefu)]
        kefu = list(zip(kefu_ids, pool.map(
            lambda k: rest.create_kefu(srv.base, admin, k, per_kefu), kefu_ids), strict=True))
        kehu = list(pool.map(lambda i: rest.guest(srv.base, f"客户{i}"), range(cfg.kehu)))
    return kefu, kehu


async def _kill_and_restart(srv: DrillServer, cfg: ChaosConfig, rng: random.Random,
                            res: RunResult) -> None:
    loop = asyncio.get_running_loop()

    def run(fn: Any, *args: Any) -> Any:
        return loop.run_in_executor(None, fn, *args)

    if cfg.mode == "redis":
        old = srv.redis_pid()
        started = time.monotonic()
        await run(srv.kill9_redis)
        res.events.append("redis killed")
        await run(srv.wait_redis_replaced, old, 30.0)  # the server started a new one
        res.down = time.monotonic() - started
        await run(wait_health, srv.base, 200, 30.0)
        res.back = time.monotonic() - started
        res.events.append("redis restarted by the server, health 200")
        return
    if cfg.mode == "both":
        await run(srv.kill9_redis)
    await run(srv.kill9)
    res.events.append("server killed")
    res.down = rng.uniform(0.1, 1.0)
    await asyncio.sleep(res.down)
    res.back = (await run(srv.start)).started_in
    res.events.append("server restarted")


async def _traffic(srv: DrillServer, cfg: ChaosConfig, kefu: list[tuple[str, str]],
                   kehu: list[tuple[str, str]], res: RunResult) -> None:
    rng = random.Random(cfg.seed)
    crowd = await connect_crowd(srv.ws_url, kefu, kehu, rng)
    clients, pairs = crowd.clients, crowd.pairs
    try:
        duration = cfg.messages / cfg.rate
        res.kill_at = rng.uniform(0.15, 0.85) * duration
        attempted: set[str] = set()
        t0 = time.monotonic()
        killer = asyncio.ensure_future(_at(t0 + res.kill_at, _kill_and_restart(
            srv, cfg, random.Random(rng.random()), res)))
        for i in range(cfg.messages):
            sid, c, k = rng.choice(pairs)
            by_kefu = rng.random() < cfg.kefu_share
            delay = t0 + i / cfg.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            cmid = f"s{cfg.seed}-{i}"
            attempted.add(cmid)
            if by_kefu:
                k.send(cmid, f"客服回复 {i}", session_id=sid)
            else:
                c.send(cmid, f"客户消息 {i}")
        await killer
        await settle(srv.redis_client, clients, [p[0] for p in pairs], cfg.settle_seconds)
        await crowd.close()
        loop = asyncio.get_running_loop()
        r = srv.redis_client()
        try:
            res.figures = await loop.run_in_executor(None, tally, r, Keys(), clients,
                                                     [p[0] for p in pairs], attempted)
        finally:
            r.close()
    finally:
        for t in crowd.tasks:
            t.cancel()


async def _at(when: float, coro: Any) -> None:
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    await coro


def run_one(cfg: ChaosConfig, root: Path | None = None) -> RunResult:
    """One seed, one mode: start, drive, kill, restart, settle, count. Blocking."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    data = Path(tempfile.mkdtemp(prefix=f"chaos-{cfg.mode}-{cfg.seed}-", dir=root))
    srv = DrillServer(data / "srv", env=DRILL_ENV)
    res = RunResult(seed=cfg.seed, mode=cfg.mode, figures=Figures(), data_dir=str(data))
    started = time.monotonic()
    try:
        srv.start()
        kefu, kehu = _setup(srv, cfg)
        asyncio.run(_traffic(srv, cfg, kefu, kehu, res))
        res.completed = True
    finally:
        srv.stop()
        res.seconds = time.monotonic() - started
        log = data / "srv" / "server.log"
        if log.exists():
            res.tracebacks = log.read_text(errors="replace").count("Traceback")
        if not cfg.keep and res.ok:
            shutil.rmtree(data, ignore_errors=True)
    return res


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=200.0, help="messages per second")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    p.add_argument("--mode", default="server,redis",
                   help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--kehu", type=int, default=50)
    p.add_argument("--kefu", type=int, default=10)
    p.add_argument("--keep", action="store_true", help="keep the data directories")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--cluster", action="store_true",
                   help="the cluster drills instead: three nodes on one Redis "
                        "(kefu/drills/cluster.py)")
    p.add_argument("--failover", action="store_true",
                   help="the Redis failover drill instead: a primary, a replica held behind "
                        "and three sentinels; kill -9 the primary (kefu/drills/failover.py)")
    p.add_argument("--spares", type=int, default=0,
                   help="with --failover: replicas besides the held one (0: the old primary "
                        "is started again as the new one's replica)")
    p.add_argument("--no-control", action="store_true",
                   help="with --failover: skip the negative control (KEFU_ACK_REPLICAS=0)")
    p.add_argument("--scenario", default="kill,kill-dispatcher,stop,rolling,pubsub",
                   help="with --cluster: comma-separated scenarios")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.failover:
        return failover.main(args)
    if args.cluster:
        return cluster.main(args)
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    results = run_series((functools.partial(run_one, ChaosConfig(
        seed=seed, mode=mode, messages=args.messages, rate=args.rate, kehu=args.kehu,
        kefu=args.kefu, keep=args.keep)) for mode in modes for seed in seeds), "chaos")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"seed": r.seed, "mode": r.mode, "kill_at": r.kill_at, "down": r.down,
              "back": r.back, "seconds": r.seconds, "tracebacks": r.tracebacks,
              **r.figures.as_dict()} for r in results], indent=2))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
