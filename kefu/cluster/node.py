"""One node of a cluster: its membership, leases, inbox, courier and subscriber, and what
the actors need of them (the runtime's :class:`~kefu.actors.runtime.ClusterLink`).

Assembly (``server.py``): ``outbox_for(hub)`` → the actor system with ``attach(rt)`` →
``start()`` before the port opens: the Courier, the Subscriber, the ShardKeeper (its
first round beats the heartbeat and takes a share of the shards; each shard's actors start
as it is acquired), the InboxReader. ``drain()`` on SIGTERM: the node says it is draining
and hands every shard over — their actors finish what is in their mailboxes, the append
log and the Courier flush, the leases are released and other nodes take them at once.
``stop()``: reader, keeper, subscriber, courier; the node leaves ``kefu:nodes``.

Every public method is thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from kefu.actors.messages import Receipt
from kefu.actors.runtime import Runtime
from kefu.cluster import inbox
from kefu.cluster.inbox import Courier, InboxReader
from kefu.cluster.leases import DISPATCHER_SHARD, ShardKeeper, lease_table
from kefu.cluster.membership import SALT_BITS, Membership, new_node_id, presence_of_nodes
from kefu.cluster.pubsub import ClusterOutbox, LocalSockets, Subscriber
from kefu.cluster.router import ShardRouter, shard_of_actor
from kefu.config import Settings
from kefu.domain import split_session_id
from kefu.persistence.fencing import Fence
from kefu.persistence.redis import REDIS_ERRORS, Store

log = logging.getLogger(__name__)
ROUTED_KINDS = ("dispatcher", "agent", "session")
JOIN_SECONDS = 0.2
SETTLE_SECONDS = 5.0  # a handed-over shard's actors finish their mailboxes within this
Watcher = Callable[[Any], None]


class ClusterNode:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store, self.keys = settings, store, store.keys
        self.node = settings.node_id or new_node_id(settings.port)
        self.membership = Membership(store, self.node, f"{settings.host}:{settings.port}",
                                     settings.lease_ttl_ms)
        self.salt = self.membership.salt
        self.courier = Courier(store)
        self.keeper = ShardKeeper(store, self.node, settings.shards, settings.lease_ttl_ms,
                                  self.live_nodes, self._beat, self._acquired, self._lost,
                                  self.settle)
        self._rt: Runtime | None = None
        self._router: ShardRouter | None = None
        self._reader: InboxReader | None = None
        self._subscriber: Subscriber | None = None
        self._hub: LocalSockets | None = None
        self.outbox: ClusterOutbox | None = None
        self.watch_presence: Watcher = lambda _snapshot: None
        self.on_control: Watcher = lambda _header: None
        self.dispatcher_owner: str | None = None
        self._stopping: dict[str, list[pykka.Future[Any]]] = {}  # shard → actors stopping
        self._lock = threading.Lock()

    # --- assembly (the main thread) ----------------------------------------------------

    @property
    def conn_id_base(self) -> int:
        """This node's connection ids start above it (its salt in the high bits)."""
        return self.salt << SALT_BITS

    def count_changed(self, user_id: str, user_type: str, count: int) -> None:
        """The Hub's hook (loop thread): record this node's sockets of a user in Redis."""
        self.courier.send(*self.membership.presence_command(user_id, user_type, count))

    def outbox_for(self, hub: LocalSockets) -> ClusterOutbox:
        self._hub = hub
        self.outbox = ClusterOutbox(hub, self.courier, self.store, self.salt)
        return self.outbox

    def attach(self, rt: Runtime) -> None:
        """Route the runtime's actors by shard (before any actor starts)."""
        assert self._hub is not None, "outbox_for first"
        self._rt = rt
        rt.cluster = self
        router = ShardRouter(self.keys, self.settings.shards, self.salt, self.keeper.owns,
                             self.courier, rt.registry)
        rt.registry.placement = router
        self._router = router
        self._reader = InboxReader(self.store, self.node, self.keeper.owned, router.deliver)
        self._subscriber = Subscriber(self.store, self._hub, self.salt,
                                      router.replies, self._control)

    def start(self) -> None:
        assert self._reader is not None and self._subscriber is not None
        self.courier.start()
        self._subscriber.start()
        self.keeper.start()
        if self.outbox is not None:  # a node alone broadcasts nothing: tell it now
            self.outbox.control({"what": "join", "node": self.node})
            self.courier.flush()
            time.sleep(JOIN_SECONDS)  # (its subscriber hears it well before our port opens)
        self._reader.start()
        log.info("cluster node %s: %d shards", self.node, len(self.keeper.owned()))

    def _control(self, header: dict[str, Any]) -> None:
        """A change every node hears (the subscriber's thread)."""
        if header.get("what") == "join":
            if self.outbox is not None and header.get("node") != self.node:
                self.outbox.peers = True
            return
        self.on_control(header)

    def drain(self) -> None:
        """Hand every shard over (SIGTERM), within about ``KEFU_DRAIN_SECONDS``."""
        self.membership.draining = True
        self.keeper.draining = True
        try:
            self.membership.heartbeat()
        except REDIS_ERRORS:
            pass
        started = time.monotonic()
        self.keeper.hand_over(list(self.keeper.epochs()), self.settle)
        log.info("cluster node %s drained in %.2f s", self.node, time.monotonic() - started)

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        self.keeper.stop()
        self.courier.flush()
        if self._subscriber is not None:
            self._subscriber.stop()
        self.courier.stop()
        try:
            self.membership.leave()
        except REDIS_ERRORS:
            pass

    # --- the keeper's callbacks ----------------------------------------------------------

    def _beat(self) -> None:
        """Each keeper round: the heartbeat, who holds the dispatcher, everyone's sockets."""
        self.membership.heartbeat()
        if self.outbox is not None:  # a peer whose heartbeat lapsed a moment (a Redis
            # failover, a pause) still has sockets: it counts until it is long gone
            self.outbox.peers = self.membership.known_nodes() > 1
        token = self.store.client.get(self.keys.lease(DISPATCHER_SHARD))
        self.dispatcher_owner = token.rpartition("|")[0] if token else None
        self.watch_presence(presence_of_nodes(self.store.client, self.keys))

    def _acquired(self, shard: str) -> None:
        """Start the shard's actors: the dispatcher, or the active sessions (and their
        agents) of the kefus in it. Their inbox is claimed by the reader's next round."""
        rt = self._rt
        assert rt is not None
        if shard == DISPATCHER_SHARD:
            rt.registry.local("dispatcher", "main").ensure_started()
            return
        try:
            sids = rt.store.client.hvals(rt.store.keys.assignments)
        except REDIS_ERRORS:
            return  # they start on their first message
        for sid in sids:
            if self._shard("session", sid) == shard:
                rt.registry.local("session", sid).ensure_started()
                pair = split_session_id(sid)
                if pair is not None:
                    rt.registry.local("agent", pair[1]).ensure_started()

    def _lost(self, shard: str) -> None:
        """Stop the shard's local actors (they are another node's now, or about to be)."""
        rt = self._rt
        if rt is None:
            return
        if self._reader is not None:
            self._reader.forget(shard)
        futures = []
        for handle in rt.registry.all():
            if handle.kind in ROUTED_KINDS and self._shard(handle.kind, handle.key) == shard:
                future = handle.stop()
                if future is not None:
                    futures.append(future)
                rt.registry.drop(handle)
        with self._lock:
            self._stopping[shard] = futures

    def settle(self, shards: list[str]) -> None:
        """Wait (bounded) until the actors of ``shards`` stopped, their appends are
        decided and what they sent is in Redis: then their leases may go."""
        deadline = time.monotonic() + min(SETTLE_SECONDS, self.settings.drain_seconds)
        with self._lock:
            futures = [f for s in shards for f in self._stopping.pop(s, [])]
        for future in futures:
            try:
                future.get(timeout=max(deadline - time.monotonic(), 0.01))
            except (pykka.Timeout, pykka.ActorDeadError):
                pass
        if self._rt is not None:
            self._rt.appends.barrier(max(deadline - time.monotonic(), 0.1))
        self.courier.flush(max(deadline - time.monotonic(), 0.1))

    def _shard(self, kind: str, key: str) -> str:
        return shard_of_actor(kind, key, self.settings.shards)

    # --- ClusterLink (actor threads) -----------------------------------------------------

    def fence(self, kind: str, key: str) -> Fence:
        shard = self._shard(kind, key)
        fence = self.keeper.fence(shard)
        return fence or Fence(self.keys.lease(shard), f"{self.node}|0")  # always refused

    def fenced(self, kind: str, key: str) -> None:
        shard = self._shard(kind, key)
        log.warning("%s: a write to shard %s was fenced", self.node, shard)
        self.keeper.lost_by_fence(shard)

    def ack(self, receipt: Receipt) -> None:
        stream, entry_id = receipt
        if self.keeper.fence(stream.rpartition(":")[2]) is not None:
            self.courier.send("XACK", stream, inbox.GROUP, entry_id)
        # else: the shard is gone; its new owner handles the entry again (idempotent)

    def live_nodes(self) -> list[str]:
        return self.membership.live_nodes(include_draining=True)

    # --- views ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``GET /api/system/cluster`` (blocking: the executor)."""
        client, keys = self.store.client, self.keys
        now_ms = int(time.time() * 1000)
        nodes = []
        for node, expiry in client.zrangebyscore(keys.nodes, "-inf", "+inf", withscores=True):
            info = client.hgetall(keys.node_info(node))
            beat_ms = expiry - self.settings.lease_ttl_ms
            nodes.append({"id": node, "address": info.get("address"),
                          "alive": expiry >= now_ms, "draining": info.get("draining") == "1",
                          "heartbeat_age_seconds": round(max(0, now_ms - beat_ms) / 1000, 3)})
        shards = lease_table(client, keys, self.settings.shards)
        numbered = [str(s) for s in range(self.settings.shards)] + [DISPATCHER_SHARD]
        lag = inbox.lag(client, keys, numbered)
        return {"node": self.node, "nodes": nodes, "shards": shards,
                "dispatcher": next((s["owner"] for s in shards
                                    if s["shard"] == DISPATCHER_SHARD), None),
                "inbox_lag": {"total": sum(lag.values()),
                              "by_shard": {s: n for s, n in lag.items() if n}},
                "fenced_writes": {k: int(v) for k, v in client.hgetall(keys.fenced_count).items()},
                "this_node": {"owned": sorted(self.keeper.owned(), key=_shard_order),
                              "acquired": self.keeper.acquired, "lost": self.keeper.lost,
                              "courier_sent": self.courier.sent,
                              "courier_dropped": self.courier.dropped,
                              "inbox_handled": self._reader.handled if self._reader else 0,
                              "forwarded": self._router.forwarded if self._router else 0,
                              "pubsub_breaks": (self._subscriber.breaks
                                                if self._subscriber else 0)}}


def _shard_order(shard: str) -> tuple[int, int]:
    return (1, 0) if shard == DISPATCHER_SHARD else (0, int(shard))
