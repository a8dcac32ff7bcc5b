"""Where an actor lives in a cluster, and how a message reaches it on another node.

Every actor belongs to a shard (:func:`shard_of_actor`): the dispatcher to ``D``, a kefu's
agent and all its sessions to ``crc32(kefu id) % KEFU_SHARDS``. The :class:`ShardRouter` is
the registry's :class:`~kefu.actors.handles.Placement`: an actor of a shard this node owns
is a local pykka actor, any other is reached through its shard's inbox stream (the
Courier's ``XADD``; whoever holds the lease reads it). An ask's reply comes back on the
asking node's channel (``kefu:n:<salt>``) and is matched to its callback by request id;
replies are at most once (the asker's own timeout answers a lost one).

Entries are ``{"e": JSON}``: ``{"v": 1, "k": kind, "i": key, "m": message, "r": [salt,
request id] or null}`` (``codec.py``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kefu.actors.handles import Registry, refuse
from kefu.actors.messages import Envelope, ReplyFn
from kefu.cluster import codec
from kefu.cluster.inbox import Courier, Entry
from kefu.cluster.leases import DISPATCHER_SHARD, shard_of
from kefu.domain import split_session_id
from kefu.protocol import RejectReason

if TYPE_CHECKING:
    from kefu.persistence.keys import Keys

log = logging.getLogger(__name__)
REPLY_TTL = 60.0  # seconds a remote ask's callback is kept for its reply


def shard_of_actor(kind: str, key: str, shards: int) -> str:
    """The shard of actor ``kind:key``."""
    if kind == "dispatcher":
        return DISPATCHER_SHARD
    if kind == "session":
        pair = split_session_id(key)
        return shard_of(pair[1] if pair else key, shards)
    return shard_of(key, shards)


class Replies:
    """Callbacks of this node's remote asks, by request id. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[str, tuple[ReplyFn, float]] = {}

    def add(self, reply: ReplyFn) -> str:
        rid = uuid.uuid4().hex
        with self.lock:
            self.waiting[rid] = (reply, time.monotonic() + REPLY_TTL)
        return rid

    def settle(self, rid: str, data: dict[str, Any]) -> None:
        """A reply came (the subscriber's thread)."""
        with self.lock:
            entry = self.waiting.pop(rid, None)
        if entry is not None:
            try:
                entry[0](codec.decode_reply(data))
            except Exception:  # the asker's callback: keep the subscriber alive
                log.exception("reply callback failed")

    def expire(self) -> None:
        now = time.monotonic()
        with self.lock:
            for rid in [r for r, (_, until) in self.waiting.items() if until < now]:
                del self.waiting[rid]


class ShardRouter:
    """The registry's placement in cluster mode; thread-safe."""

    def __init__(self, keys: Keys, shards: int, salt: int, owns: Callable[[str], bool],
                 courier: Courier, registry: Registry) -> None:
        self.keys, self.shards, self.salt = keys, shards, salt
        self.owns, self.courier, self.registry = owns, courier, registry
        self.replies = Replies()
        self.forwarded = 0

    def shard(self, kind: str, key: str) -> str:
        return shard_of_actor(kind, key, self.shards)

    # --- Placement ------------------------------------------------------------------

    def local(self, kind: str, key: str) -> bool:
        return self.owns(self.shard(kind, key))

    def forward(self, kind: str, key: str, env: Envelope) -> None:
        """To the shard's inbox (any thread; never blocks)."""
        if not codec.travels(env.msg):
            log.error("%s cannot cross nodes (to %s:%s)", type(env.msg).__name__, kind, key)
            refuse(env, RejectReason.INTERNAL)
            return
        reply_to = None if env.reply is None else [self.salt, self.replies.add(env.reply)]
        body = codec.dumps({"v": 1, "k": kind, "i": key, "m": codec.encode_message(env.msg),
                            "r": reply_to})
        self.forwarded += 1
        self.courier.send("XADD", self.keys.inbox(self.shard(kind, key)), "*", "e", body)

    # --- the inbox reader's thread ----------------------------------------------------

    def deliver(self, entry: Entry) -> None:
        """One inbox entry → the local actor (with its receipt), or back into the stream
        if the shard is no longer ours (so its new owner reads it), or dropped if junk."""
        stream, entry_id, fields = entry
        try:
            data = codec.loads(fields["e"])
            kind, key = data["k"], data["i"]
            msg = codec.decode_message(data["m"])
        except (KeyError, TypeError, ValueError) as exc:
            log.error("inbox %s %s: undecodable entry dropped: %s", stream, entry_id, exc)
            self.courier.send("XACK", stream, "own", entry_id)
            return
        if not self.local(kind, key):  # handed over while we read it: on to the new owner
            self.courier.send("XADD", stream, "*", "e", fields["e"])
            self.courier.send("XACK", stream, "own", entry_id)
            return
        reply = None
        if data.get("r"):
            salt, rid = data["r"]
            reply = self._replier(int(salt), str(rid))
        self.registry.local(kind, key).post(Envelope(msg, reply, (stream, entry_id)))

    def _replier(self, salt: int, rid: str) -> ReplyFn:
        channel = self.keys.node_channel(str(salt))

        def reply(result: Any) -> None:  # the actor's thread
            self.courier.send("PUBLISH", channel, codec.payload(
                {"t": "r", "rid": rid}, codec.dumps(codec.encode_reply(result))))
        return reply
