"""Shard leases with fencing tokens, and the thread that keeps them (``ShardKeeper``).

The actors live in ``KEFU_SHARDS`` fixed shards (``shard_of``: a kefu's agent and all its
sessions in one) plus the dispatcher's shard ``D``. A node owns a shard while it holds its
lease: ``kefu:lease:{s}`` = the fencing token ``<node id>|<epoch>`` with a ``PX`` TTL
(``KEFU_LEASE_TTL_MS``), the epoch from ``kefu:epoch:{s}``, bumped at every new
acquisition. Every write script of a shard's actor compares its writer's token with the
lease and refuses a write from anyone else (``persistence/fencing.py``) — a holder whose
lease expired, even before another took it, cannot write; and the node id in the token
tells a zombie from a new holder even if a failover lost an epoch increment.

The keeper beats the node's heartbeat and renews every TTL/5, from its own thread. It
judges its own leases by the monotonic time the renewal was *sent* (``valid_until = sent +
ttl - margin``), never by a clock of Redis; past that it gives the shard up itself. It
takes free shards while it holds fewer than its share (``ceil(shards / live nodes)``),
gives some back (up to 8 per round, on another thread) while it holds more than its
share + 1 (none it took in the last three TTLs), and takes ``D`` when nobody holds it. Callbacks (``on_acquire``, ``on_lose``)
run on the keeper's thread (``on_lose`` also on whichever thread reports a fenced write).

A shard being handed over (:meth:`ShardKeeper.hand_over`, a drain or a rebalance) is no
longer *owned* — nothing new starts or is routed here — but its token stays valid until
the release, so what its actors finish meanwhile is still written.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from kefu import metrics
from kefu.persistence.fencing import Fence
from kefu.persistence.keys import DISPATCHER_SHARD, Keys
from kefu.persistence.redis import REDIS_ERRORS, Store, confirm_quietly

log = logging.getLogger(__name__)
MARGIN_FRACTION = 0.2  # of the TTL: a lease is trusted until ttl - margin after its renewal
HOLD_TTLS = 3  # a shard taken is not given back for rebalancing before 3 TTLs (30 s)
MAX_HAND_OVER = 8  # shards given back per rebalancing round

# KEYS: lease, epoch, leaselog.  ARGV: node, ttl_ms, shard → {1, epoch} | {0, holder}
ACQUIRE_LUA = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  local e = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. e, 'PX', ARGV[2])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'shard', ARGV[3], 'node', ARGV[1],
             'epoch', e)
  return {1, e}
end
return {0, holder}
"""

# KEYS: lease.  ARGV: token, ttl_ms → 1 renewed | 0 not ours
RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease.  ARGV: token → 1 released | 0 not ours
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def shard_of(kefu_id: str, shards: int) -> str:
    """The shard of a kefu's agent and of every session it serves."""
    return str(zlib.crc32(kefu_id.encode()) % shards)


@dataclass
class Held:
    epoch: int
    token: str  # node|epoch: the lease's value, checked by every write script
    valid_until: float  # monotonic
    acquired_at: float  # monotonic
    leaving: bool = False  # being handed over: not owned, token still valid


class ShardKeeper:
    """One per node; ``start``/``stop`` from the main thread, rounds on its own thread.
    :meth:`fence`, :meth:`owns`, :meth:`owned` and :meth:`lost_by_fence` are thread-safe."""

    def __init__(self, store: Store, node: str, shards: int, ttl_ms: int,
                 live_nodes: Callable[[], list[str]], beat: Callable[[], None],
                 on_acquire: Callable[[str], None],
                 on_lose: Callable[[str], None],
                 settle: Callable[[list[str]], None]) -> None:
        self.store, self.keys = store, store.keys
        self.node, self.shards, self.ttl_ms = node, shards, ttl_ms
        self.live_nodes, self.beat = live_nodes, beat
        self.on_acquire, self.on_lose, self.settle = on_acquire, on_lose, settle
        self.held: dict[str, Held] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.draining = False
        self.handing = threading.Event()  # a rebalance hand-over is running
        self.thread = threading.Thread(target=self._run, name="kefu-leases", daemon=True)
        client = store.client
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self.order = [str(s) for s in range(shards)]
        random.Random(node).shuffle(self.order)  # nodes try free shards in different orders
        self.acquired = 0
        self.lost = 0

    @property
    def interval(self) -> float:
        return self.ttl_ms / 5000.0

    @property
    def margin(self) -> float:
        return self.ttl_ms * MARGIN_FRACTION / 1000.0

    def start(self) -> None:
        """One round now (own a share before the port opens), then the thread."""
        self.round()
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread (the leases still held expire by themselves, or were handed
        over by a drain first)."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(5)

    # --- any thread -----------------------------------------------------------------

    def fence(self, shard: str) -> Fence | None:
        """The fence of a shard this node holds (also while handing it over), else None."""
        with self.lock:
            held = self.held.get(shard)
            if held is None or time.monotonic() > held.valid_until:
                return None
            return Fence(self.keys.lease(shard), held.token)

    def owns(self, shard: str) -> bool:
        """Is ``shard`` this node's, and not being handed over?"""
        with self.lock:
            held = self.held.get(shard)
            return (held is not None and not held.leaving
                    and time.monotonic() <= held.valid_until)

    def owned(self) -> list[str]:
        """The shards this node owns (not those being handed over)."""
        now = time.monotonic()
        with self.lock:
            return [s for s, h in self.held.items() if not h.leaving and now <= h.valid_until]

    def epochs(self) -> dict[str, int]:
        with self.lock:
            return {s: h.epoch for s, h in self.held.items()}

    def lost_by_fence(self, shard: str) -> None:
        """A write script said this node is fenced off ``shard``: give it up now."""
        self._lost(shard)

    # --- the keeper's thread ------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.round()
            except Exception:  # the keeper must outlive a bug: next round
                log.exception("lease round failed")

    def round(self) -> None:
        """Heartbeat, renew, judge, rebalance: one round."""
        try:
            self.beat()
        except REDIS_ERRORS as exc:
            log.warning("heartbeat failed: %s", exc)
        self._renew_all()
        if self.draining:
            return
        try:
            live = max(1, len(self.live_nodes()))
        except REDIS_ERRORS:
            return
        share = math.ceil(self.shards / live)
        numbered = [s for s in self.owned() if s != DISPATCHER_SHARD]
        if len(numbered) < share:
            for shard in self.order:
                if len(numbered) >= share:
                    break
                if shard not in self.held and self._take(shard):
                    numbered.append(shard)
        elif len(numbered) > share + 1 and not self.handing.is_set():
            now = time.monotonic()
            hold = HOLD_TTLS * self.ttl_ms / 1000.0
            with self.lock:
                spare = [s for s in numbered if now - self.held[s].acquired_at > hold]
            spare = spare[:min(len(numbered) - share, MAX_HAND_OVER)]
            if spare:  # on its own thread: renewals must not wait for a settle
                self.handing.set()
                threading.Thread(target=self._rebalance, args=(spare,), daemon=True,
                                 name="kefu-handover").start()
        if DISPATCHER_SHARD not in self.held:
            self._take(DISPATCHER_SHARD)

    def _rebalance(self, shards: list[str]) -> None:
        try:
            self.hand_over(shards, self.settle)
        finally:
            self.handing.clear()

    def _renew_all(self) -> None:
        with self.lock:
            held = dict(self.held)
        if not held:
            return
        sent = time.monotonic()
        try:
            pipe = self.store.client.pipeline(transaction=False)
            for shard, h in held.items():
                self._renew(keys=[self.keys.lease(shard)], args=[h.token, self.ttl_ms],
                            client=pipe)
            results = pipe.execute()
        except REDIS_ERRORS as exc:
            log.warning("lease renewal failed: %s", exc)
            results = [None] * len(held)
        for (shard, h), ok in zip(held.items(), results, strict=True):
            if ok == 1:
                with self.lock:
                    if self.held.get(shard) is h:
                        h.valid_until = sent + self.ttl_ms / 1000.0 - self.margin
            elif ok == 0 or time.monotonic() > h.valid_until:
                self._lost(shard)  # taken, or expired while Redis was away: not ours

    def _take(self, shard: str) -> bool:
        sent = time.monotonic()
        try:
            got, value = self._acquire(keys=[self.keys.lease(shard), self.keys.epoch(shard),
                                             self.keys.lease_log],
                                       args=[self.node, self.ttl_ms, shard])
        except REDIS_ERRORS:
            return False
        if not got:
            return False
        epoch = int(value)
        confirm_quietly(self.store, f"lease of shard {shard}")  # KEFU_ACK_REPLICAS
        with self.lock:
            self.held[shard] = Held(epoch, f"{self.node}|{epoch}",
                                    sent + self.ttl_ms / 1000.0 - self.margin, sent)
        self.acquired += 1
        metrics.LEASE_CHANGES.labels("acquired").inc()
        log.info("%s: shard %s acquired (epoch %s)", self.node, shard, epoch)
        self.on_acquire(shard)
        return True

    def _lost(self, shard: str) -> None:
        with self.lock:
            if self.held.pop(shard, None) is None:
                return
        self.lost += 1
        metrics.LEASE_CHANGES.labels("lost").inc()
        log.warning("%s: shard %s lost", self.node, shard)
        self.on_lose(shard)

    def hand_over(self, shards: list[str], finish: Callable[[list[str]], None]) -> None:
        """Give ``shards`` back gracefully: mark them leaving (nothing new is routed or
        started here), stop their actors (``on_lose``), let ``finish`` wait for what they
        still write, then release the leases — another node takes each at once, its inbox
        with it. Called on the keeper's thread (rebalance) or by the drain."""
        with self.lock:
            leaving = [s for s in shards if s in self.held]
            for shard in leaving:
                self.held[shard].leaving = True
        for shard in leaving:
            self.on_lose(shard)
        finish(leaving)
        for shard in leaving:
            with self.lock:
                held = self.held.pop(shard, None)
            if held is None:
                continue
            try:
                self._release(keys=[self.keys.lease(shard)], args=[held.token])
            except REDIS_ERRORS:
                pass  # it expires by itself
            metrics.LEASE_CHANGES.labels("handed_over").inc()
            log.info("%s: shard %s handed over", self.node, shard)


def lease_table(client: redis.Redis, keys: Keys, shards: int) -> list[dict[str, object]]:
    """Every shard with its owner node (None: free) and epoch, for ``/api/system/cluster``."""
    names = [str(s) for s in range(shards)] + [DISPATCHER_SHARD]
    pipe = client.pipeline(transaction=False)
    for shard in names:
        pipe.get(keys.lease(shard))
        pipe.get(keys.epoch(shard))
    values = pipe.execute()
    table: list[dict[str, object]] = []
    for i, shard in enumerate(names):
        token, epoch = values[2 * i], int(values[2 * i + 1] or 0)
        owner, _, held_epoch = token.rpartition("|") if token else (None, "", "")
        table.append({"shard": shard, "owner": owner or None,
                      "epoch": int(held_epoch) if held_epoch else epoch})
    return table
