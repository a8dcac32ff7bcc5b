"""Frames to sockets on any node: the cluster's Outbox, and the thread that listens.

Connection ids carry their node's salt in their high bits (``Hub(id_base=salt << 32)``),
so a frame for one connection goes straight to its node's channel ``kefu:n:<salt>``; a
frame for users goes to this node's own sockets at once and, for the others, to the
broadcast channel ``kefu:frames`` (tagged with its origin, which skips it). Everything is
published by the Courier, in the order it was queued, so one actor's frames reach a socket
in the order it sent them.

Pub/sub loses what is published while a subscriber is away. The :class:`Subscriber` probes
its own channel every second; a dead or deaf connection (no probe back in three seconds,
or a socket error — ``CLIENT KILL TYPE pubsub``) is replaced, and then every local socket
is closed with 1012: its client reconnects, resends what was not acked and resumes by
``seq`` — nothing is missed (docs/cluster.md).

Payloads are ``<origin salt>\\n<header JSON>\\n<frame>`` (``codec.payload``); headers:
``c`` (one connection), ``u`` (users), ``m`` (a stored message to users), ``k`` (close a
user's sockets), ``r`` (an ask's reply), ``route`` (a kehu's messages may go straight to
its session), ``ctl`` (maintenance changed, a node joined), ``p`` (probe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import redis

from kefu.actors.runtime import Outbox
from kefu.cluster import codec
from kefu.cluster.inbox import Courier
from kefu.cluster.membership import SALT_BITS, cluster_presence
from kefu.cluster.router import Replies
from kefu.persistence.redis import REDIS_ERRORS, Store
from kefu.protocol import CloseCode

log = logging.getLogger(__name__)
PROBE_SECONDS = 1.0
DEAF_AFTER = 3.0


class LocalSockets(Outbox, Protocol):
    """This node's own sockets (the IOLoop's Hub, ``http/connections.py``): the actors'
    Outbox for local connections, and closing them all. Thread-safe; never blocks."""

    def kick_all(self, code: int, reason: str) -> None: ...

    def connection_counts(self) -> dict[str, int]: ...


class ClusterOutbox:
    """The actors' Outbox in cluster mode. Thread-safe; never blocks (but ``presence``)."""

    def __init__(self, hub: LocalSockets, courier: Courier, store: Store, salt: int) -> None:
        self.hub, self.courier, self.store, self.salt = hub, courier, store, salt
        # is any other node alive? (the keeper's rounds; a joining node's announcement
        # sets it at once): alone, frames for users need no broadcast
        self.peers = True
        self.keys = store.keys
        self.broadcast = self.keys.frames_channel

    def _local(self, conn_id: int) -> bool:
        return conn_id >> SALT_BITS == self.salt

    def _publish(self, channel: str, data: bytes) -> None:
        self.courier.send("PUBLISH", channel, data)

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None:
        if conn_id is None:
            return
        if self._local(conn_id):
            self.hub.to_conn(conn_id, frame, sid, seq)
            return
        self._publish(self.keys.node_channel(str(conn_id >> SALT_BITS)),
                      codec.payload({"t": "c", "c": conn_id, "s": sid, "q": seq}, frame))

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None:
        users = tuple(user_ids)
        self.hub.to_users(users, frame, exclude_conn)
        if self.peers:
            self._publish(self.broadcast, codec.payload({"t": "u", "u": users, "x": exclude_conn},
                                                   frame, self.salt))

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None:
        users = tuple(user_ids)
        self.hub.message(users, sid, seq, frame, exclude_conn)
        if self.peers:
            self._publish(self.broadcast, codec.payload({"t": "m", "u": users, "s": sid, "q": seq,
                                                           "x": exclude_conn}, frame, self.salt))

    def kick(self, user_id: str, code: int, reason: str,
             tokens: Iterable[str] | None = None) -> None:
        tokens = None if tokens is None else list(tokens)
        self.hub.kick(user_id, code, reason, tokens)
        self._publish(self.broadcast, codec.payload({"t": "k", "u": user_id, "code": code,
                                               "reason": reason, "tokens": tokens},
                                               origin=self.salt))

    def control(self, header: dict[str, Any]) -> None:
        """A change every node must hear (maintenance), this one included."""
        self._publish(self.broadcast, codec.payload({"t": "ctl", **header}))

    def route(self, kehu_id: str, sid: str, route_seq: int, conn_id: int | None = None) -> None:
        """The kehu's later messages may go straight to the session, from whichever node
        its socket is on: the dispatcher told the session message ``route_seq`` first
        (in-process, or an ``XADD`` the Courier sends before this), so a later message —
        told in-process here, or appended to the session's inbox after it — queues behind
        it (``Hub.route``)."""
        if conn_id is None:
            return
        if self._local(conn_id):
            self.hub.route(kehu_id, sid, route_seq)
            return
        self._publish(self.keys.node_channel(str(conn_id >> SALT_BITS)),
                      codec.payload({"t": "route", "k": kehu_id, "s": sid, "q": route_seq}))

    def presence(self) -> dict[str, dict[str, int]]:
        """node → user → sockets, from Redis (the dispatcher's thread, at load)."""
        return cluster_presence(self.store.client, self.keys)

    def connection_counts(self) -> dict[str, int]:
        return self.hub.connection_counts()


class Subscriber:
    """One thread: listens on ``kefu:frames`` and this node's channel, hands frames to the
    Hub (which hops onto the IOLoop), replies to :class:`Replies`, and repairs itself."""

    def __init__(self, store: Store, hub: LocalSockets, salt: int, replies: Replies,
                 on_control: Callable[[dict[str, Any]], None]) -> None:
        self.target, self.keys, self.hub, self.salt = store.target, store.keys, hub, salt
        self.replies, self.on_control = replies, on_control
        self.mine = self.keys.node_channel(str(salt))
        self.own = str(salt).encode()
        self.stopping = threading.Event()
        self.subscribed = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kefu-pubsub", daemon=True)
        self.breaks = 0
        self.received = 0

    def start(self, timeout: float = 5.0) -> None:
        self.thread.start()
        self.subscribed.wait(timeout)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            client = self.target.client(socket_connect_timeout=1,
                                        socket_timeout=DEAF_AFTER + 2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.keys.frames_channel, self.mine)
                if self.breaks:  # frames were lost meanwhile: sockets start over
                    self.hub.kick_all(CloseCode.SERVICE_RESTART, "node resubscribed")
                self.subscribed.set()
                self._listen(client, pubsub)
            except REDIS_ERRORS as exc:
                if self.stopping.is_set():
                    break
                self.breaks += 1
                log.warning("pubsub: connection lost (%s); resubscribing", exc)
                self.stopping.wait(0.2)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except REDIS_ERRORS:
                    pass

    def _listen(self, client: redis.Redis, pubsub: Any) -> None:
        heard = probed = time.monotonic()
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=0.5)
            now = time.monotonic()
            if message is not None and message.get("type") == "message":
                heard = now
                self._handle(message["data"])
            if now - probed >= PROBE_SECONDS:
                probed = now
                client.publish(self.mine, codec.payload({"t": "p"}))
                self.replies.expire()
            if now - heard > DEAF_AFTER:
                raise redis.ConnectionError("deaf: no probe came back")

    def _handle(self, data: bytes) -> None:
        self.received += 1
        origin, _, rest = data.partition(b"\n")
        if origin == self.own:
            return  # our own broadcast: delivered locally already
        head, _, frame = rest.partition(b"\n")
        try:
            h = codec.loads(head)
        except ValueError:
            log.error("pubsub: junk dropped")
            return
        kind = h.get("t")
        if kind == "p":
            return  # a probe: hearing it was the point
        hub = self.hub
        if kind == "c":
            hub.to_conn(h["c"], frame, h.get("s"), h.get("q"))
        elif kind == "u":
            hub.to_users(h["u"], frame, h.get("x"))
        elif kind == "m":
            hub.message(h["u"], h["s"], h["q"], frame, h.get("x"))
        elif kind == "k":
            hub.kick(h["u"], h["code"], h["reason"], h.get("tokens"))
        elif kind == "r":
            self.replies.settle(h["rid"], codec.loads(frame))
        elif kind == "route":
            hub.route(h["k"], h["s"], h["q"])
        elif kind == "ctl":
            self.on_control(h)
