"""``scripts/chaos --failover``: the Redis primary dies under traffic (issue 13;
docs/reliability.md, "Redis failover").

A primary, one replica and three sentinels on loopback (``kefu/testing/sentinel.py``; the
replica replicates through a link the drill can hold), two or three cluster nodes on
them, agents and customers over real WebSockets on random nodes. At a seeded moment the
replica is **held behind** (the replication stream stops reaching it, its acks still flow)
for ``hold_seconds``, then the primary gets ``kill -9``: what it had not sent is gone, and
Sentinel promotes the replica.

Once the replica is promoted the old primary is started again as the new primary's
replica: with one replica, ``KEFU_ACK_REPLICAS=1`` has writes wait for it
(docs/reliability.md: no replica, no ack). With ``--spares 1`` a second replica with no
link is the most up-to-date one: Sentinel promotes it, the held one follows it, and the
old primary stays dead (the production shape: two replicas for ``KEFU_ACK_REPLICAS=1``).

- With ``KEFU_ACK_REPLICAS=1`` nothing acked was only on the primary: the ledger must show
  0 lost, 0 duplicated, 0 gaps, and the routing invariants must hold (no kehu in two
  sessions, no kefu over capacity), after the run and sampled every 0.5 s.
- The negative control, ``KEFU_ACK_REPLICAS=0`` under the same hold, must be able to
  show a loss (``lost`` > 0): the drill can fail.

Measured: Sentinel's failover time (kill → the replica named primary) and the service's
(kill → the first ack of a message first sent after the kill).
"""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kefu.drills.cluster import ClusterDrillConfig, ClusterRunResult, Drill, drive
from kefu.drills.series import run_series
from kefu.testing.cluster import ClusterLab, SharedRedis
from kefu.testing.sentinel import SentinelLab, SentinelRedis

MASTER = "kefu"
WAIT_TIMEOUT_MS = 500
HELD_AFTER = WAIT_TIMEOUT_MS / 1000 + 0.5


@dataclass
class FailoverDrillConfig(ClusterDrillConfig):
    scenario: str = "failover"
    nodes: int = 2
    ack_replicas: int = 1
    hold_seconds: float = 2.0  # the replica held behind before the kill (0: not held)
    down_after_ms: int = 1000  # Sentinel's down-after-milliseconds
    spares: int = 0  # replicas with no link (promoted instead): the old one stays dead
    expect_loss: bool = False  # the negative control: it passes only if something is lost


@dataclass
class FailoverRunResult(ClusterRunResult):
    ack_replicas: int = 1
    expect_loss: bool = False
    failover: float = 0.0  # kill → the sentinels name the replica
    service_back: float = 0.0  # kill → the first ack of a message first sent after it
    acked_in_hold: int = 0  # acks that came while the replica was certainly held

    @property
    def problems(self) -> list[str]:
        if self.expect_loss:  # the negative control: a loss is what it must show (what
            # follows from it — seqs numbered again, deliveries a client cannot place — too)
            out = [] if self.figures.lost else [
                "negative control: nothing lost (the drill could not fail)"]
        else:
            out = super().problems
        if not self.failover:
            out.append("no failover happened")
        return out

    def line(self) -> str:
        head = (f"failover ack_replicas={self.ack_replicas} failover={self.failover:4.2f}s "
                f"service_back={self.service_back:4.2f}s acked_in_hold={self.acked_in_hold}")
        return head + " | " + super().line().split(" | ", 1)[1]


class FailoverDrill(Drill):
    def __init__(self, cfg: FailoverDrillConfig, root: Path) -> None:
        super().__init__(cfg, root)
        self.fcfg = cfg
        self.res = FailoverRunResult(cfg.scenario, cfg.seed, data_dir=str(root),
                                     ack_replicas=cfg.ack_replicas,
                                     expect_loss=cfg.expect_loss)

    def make_lab(self, redis: SharedRedis | None = None, **env: str) -> ClusterLab:
        cfg = self.cfg
        assert isinstance(cfg, FailoverDrillConfig)
        # (Sentinel points the replica past the link once the failover timeout has gone
        # by since it found it: 180 s, past any run of the drill)
        self.sentinel = SentinelLab(self.root / "sentinel", down_after_ms=cfg.down_after_ms,
                                    master_name=MASTER, failover_timeout_ms=180_000,
                                    spares=cfg.spares)
        return super().make_lab(SentinelRedis(self.sentinel),
                                KEFU_ACK_REPLICAS=str(cfg.ack_replicas),
                                KEFU_ACK_REPLICAS_TIMEOUT_MS=str(WAIT_TIMEOUT_MS))

    async def _fault(self, burst: list[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()
        cfg, res, lab = self.fcfg, self.res, self.sentinel
        assert isinstance(res, FailoverRunResult)
        clients = self.clients
        if cfg.hold_seconds:
            await loop.run_in_executor(None, lab.hold_replica)
            held_at = time.monotonic()
            res.events.append("replica held")
            await asyncio.sleep(cfg.hold_seconds)
            # acks that left after a write was certainly held (its WAIT began after the
            # hold: later than the WAIT timeout past it, with a margin for the way here)
            res.acked_in_hold = sum(1 for c in clients for t in c.acked_at.values()
                                    if t >= held_at + HELD_AFTER)
            await loop.run_in_executor(None, lab.drop_held)
        killed = time.monotonic()
        await loop.run_in_executor(None, lab.kill_primary)
        res.events.append("primary killed")
        res.failover = await loop.run_in_executor(None, lab.wait_failover, 60.0)
        res.events.append(f"replica promoted after {res.failover:.2f}s")
        if not cfg.spares:  # the old primary comes back as the new one's replica: with
            # one replica, KEFU_ACK_REPLICAS=1 has the writes wait for it
            await loop.run_in_executor(None, self._restart_old_primary)
            res.events.append(f"old primary back after {time.monotonic() - killed:.2f}s")
        deadline = killed + 60.0
        while time.monotonic() < deadline:
            after = [t for c in clients for cmid, t in c.acked_at.items()
                     if c.first_sent.get(cmid, 0.0) > killed]
            if after:
                res.service_back = min(after) - killed
                return
            await asyncio.sleep(0.05)  # the clients' acks arrive on this loop
        res.events.append("no message first sent after the kill was acked within 60 s")


    def _restart_old_primary(self) -> None:
        """Start the old primary as a replica of the one the sentinels name (what a
        restart script asks them first — Bitnami's charts do; left to itself it would come
        back as a primary and Sentinel would turn it into a replica within 10 s)."""
        old = self.sentinel.primary
        host, port = self.sentinel.current_primary()
        args = old.args
        old.args = [*args, "--replicaof", str(host), str(port)]
        try:
            old.spawn()
        finally:
            old.args = args
        old.wait_ping(15.0)


def run_one(cfg: FailoverDrillConfig, root: Path | None = None) -> FailoverRunResult:
    """One run: start Sentinel and the nodes, drive, hold, kill, settle, count. Blocking."""
    data = Path(tempfile.mkdtemp(prefix=f"failover-{cfg.ack_replicas}-{cfg.seed}-", dir=root))
    res = drive(FailoverDrill(cfg, data), data)
    assert isinstance(res, FailoverRunResult)
    return res


def main(args: Any) -> int:
    """``scripts/chaos --failover`` (the arguments of ``kefu/drills/chaos.py``): the
    drill with ``KEFU_ACK_REPLICAS=1`` for each seed, then the negative control."""
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    common = {"messages": args.messages, "rate": args.rate, "kehu": args.kehu,
              "kefu": args.kefu, "keep": args.keep, "spares": args.spares}
    runs = [FailoverDrillConfig(seed=seed, **common) for seed in seeds]
    if not args.no_control:
        runs.append(FailoverDrillConfig(seed=seeds[0], ack_replicas=0, expect_loss=True,
                                        **{**common, "spares": 0}))  # (a spare has it all)
    results = run_series((functools.partial(run_one, cfg) for cfg in runs), "failover chaos")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{**asdict(r), "figures": r.figures.as_dict(), "ok": r.ok} for r in results],
            indent=2, default=str))
    return 0 if all(r.ok for r in results) else 1
