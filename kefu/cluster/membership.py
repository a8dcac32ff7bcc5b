"""Who is in the cluster: node identities, heartbeats, and where users are connected.

A node's id is ``host:port:start-ms:random`` (a restarted process is a new owner, never
mistaken for its previous life) and it has a random ``salt`` that prefixes its connection
ids, so a connection id names its node anywhere in the cluster (:func:`node_salt_of`).
Every heartbeat puts the node in ``kefu:nodes`` (score: the heartbeat's expiry, epoch ms)
and refreshes its info hash and its presence hash (user → ``<sockets>|<user type>`` on
that node; written by the Courier as sockets come and go), both expiring with it: a dead
node's sockets stop counting by themselves.

Blocking Redis calls, on the keeper's thread (heartbeats) or the dispatcher's (presence).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field

import redis

from kefu.persistence.keys import Keys
from kefu.persistence.redis import Store

SALT_BITS = 32


def new_node_id(port: int) -> str:
    return f"{socket.gethostname()}:{port}:{int(time.time() * 1000)}:{secrets.token_hex(2)}"


def node_salt_of(conn_id: int) -> int:
    """The salt of the node that holds connection ``conn_id``."""
    return conn_id >> SALT_BITS


@dataclass
class Membership:
    """This node's place in the cluster. Thread-safe (its fields are set once)."""

    store: Store
    node: str
    address: str
    ttl_ms: int
    salt: int = field(default_factory=lambda: secrets.randbits(20) + 1)
    started: float = field(default_factory=time.time)
    draining: bool = False

    @property
    def keys(self) -> Keys:
        return self.store.keys

    def heartbeat(self) -> None:
        """Announce this node for another TTL (the keeper's thread)."""
        k, r = self.keys, self.store.client
        expiry = int(time.time() * 1000) + self.ttl_ms
        pipe = r.pipeline(transaction=False)
        pipe.zadd(k.nodes, {self.node: expiry})
        pipe.hset(k.node_info(self.node), mapping={
            "address": self.address, "salt": self.salt, "pid": os.getpid(),
            "started": self.started, "draining": "1" if self.draining else "0"})
        pipe.pexpire(k.node_info(self.node), self.ttl_ms)
        pipe.pexpire(k.presence(self.node), self.ttl_ms)
        pipe.zremrangebyscore(k.nodes, "-inf", expiry - 10 * self.ttl_ms)  # long gone
        pipe.execute()

    def leave(self) -> None:
        """Gone for good (a clean stop): out of the list, presence dropped."""
        k = self.keys
        pipe = self.store.client.pipeline(transaction=False)
        pipe.zrem(k.nodes, self.node)
        pipe.delete(k.node_info(self.node), k.presence(self.node))
        pipe.execute()

    def known_nodes(self) -> int:
        """How many nodes are registered: live ones and those whose heartbeat lapsed less
        than 10 TTLs ago (``heartbeat`` removes older ones)."""
        return int(self.store.client.zcard(self.keys.nodes))

    def live_nodes(self, include_draining: bool = False) -> list[str]:
        """Nodes whose heartbeat has not expired (draining ones left out: they are leaving)."""
        r, k = self.store.client, self.keys
        now = int(time.time() * 1000)
        nodes = r.zrangebyscore(k.nodes, now, "+inf")
        if include_draining or not nodes:
            return nodes
        pipe = r.pipeline(transaction=False)
        for n in nodes:
            pipe.hget(k.node_info(n), "draining")
        return [n for n, d in zip(nodes, pipe.execute(), strict=True) if d != "1"]

    def presence_command(self, user_id: str, user_type: str, count: int) -> tuple[str, ...]:
        """The command that records this node's live sockets of ``user_id`` (0: none)."""
        key = self.keys.presence(self.node)
        if count > 0:
            return ("HSET", key, user_id, f"{count}|{user_type}")
        return ("HDEL", key, user_id)


def presence_of_nodes(client: redis.Redis, keys: Keys
                      ) -> dict[str, dict[str, tuple[int, str]]]:
    """node → user → (sockets, user type), for every node whose heartbeat is alive."""
    now = int(time.time() * 1000)
    nodes = client.zrangebyscore(keys.nodes, now, "+inf")
    pipe = client.pipeline(transaction=False)
    for n in nodes:
        pipe.hgetall(keys.presence(n))
    out: dict[str, dict[str, tuple[int, str]]] = {}
    for n, raw in zip(nodes, pipe.execute(), strict=True):
        users = out[n] = {}
        for user, value in raw.items():
            count, _, user_type = value.partition("|")
            users[user] = (int(count), user_type)
    return out


def cluster_presence(client: redis.Redis, keys: Keys) -> dict[str, dict[str, int]]:
    """node → user → live sockets, for every node whose heartbeat is alive."""
    return {n: {u: c for u, (c, _t) in users.items()}
            for n, users in presence_of_nodes(client, keys).items()}
