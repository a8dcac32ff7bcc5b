"""What every actor shares: settings, Redis, the append log, the Outbox to sockets, the
registry of handles, the supervisor's handle, the structured system log and, in cluster
mode, the link to the cluster (fencing tokens, inbox acknowledgements).

Built once by ``kefu/assembly.py`` (for the server and for the actor tests alike) and
never changed after start-up; every method is thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from kefu import metrics
from kefu.config import Settings
from kefu.log_format import EVENT_ATTR
from kefu.persistence.fencing import UNFENCED, Fence
from kefu.persistence.redis import REDIS_ERRORS, Store
from kefu.persistence.users import UserStore

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle, AnyHandle, Registry
    from kefu.actors.messages import ActorDied, Receipt
    from kefu.persistence.appends import AppendLog

log = logging.getLogger("kefu.events")
UNSTORED_EVENTS = 1000  # system events kept in memory while Redis is away


class Outbox(Protocol):
    """Frames to sockets. Every method is thread-safe and never blocks: the real one
    (``http/connections.py``) hops onto the IOLoop."""

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None:
        """One frame to one connection (``sid``/``seq``: a stored message it now holds)."""

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None:
        """One frame to every connection of ``user_ids`` but ``exclude_conn``."""

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None:
        """A stored message to every connection of ``user_ids`` that lacks that seq."""

    def presence(self) -> dict[str, dict[str, int]]:
        """node → user → live connections, on every node (a restarted dispatcher reads
        them back; in single-process mode the one node is ``''``). May block on Redis."""

    def route(self, kehu_id: str, sid: str, route_seq: int, conn_id: int | None = None) -> None:
        """The kehu's message number ``route_seq`` (sent over ``conn_id``) is in session
        ``sid``'s mailbox: its later messages may go straight there (``Hub.next_route``)."""

    def kick(self, user_id: str, code: int, reason: str,
             tokens: Iterable[str] | None = None) -> None:
        """Close ``user_id``'s sockets (only those opened with one of ``tokens``, SHA-256
        digests, when given), wherever they are."""


class ClusterLink(Protocol):
    """What actors need of cluster mode (``kefu/cluster/node.py``). Thread-safe."""

    node: str
    dispatcher_owner: str | None  # the node holding the dispatcher's lease (last seen)

    def fence(self, kind: str, key: str) -> Fence:
        """The fencing token for writes of actor ``kind:key`` (refused if not owned)."""

    def fenced(self, kind: str, key: str) -> None:
        """A script refused a write of ``kind:key``: give its shard up now."""

    def ack(self, receipt: Receipt) -> None:
        """Acknowledge an inbox entry that was handled."""

    def live_nodes(self) -> list[str]:
        """The nodes whose heartbeat has not expired (blocking: one Redis read)."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    users: UserStore
    outbox: Outbox
    registry: Registry
    appends: AppendLog
    supervisor: ActorHandle | None = None
    cluster: ClusterLink | None = None  # cluster mode (set before any actor starts)
    started_at: float = field(default_factory=time.time)
    _unstored: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=UNSTORED_EVENTS))
    _unstored_lock: threading.Lock = field(default_factory=threading.Lock)

    # handles ----------------------------------------------------------------------
    def dispatcher(self) -> AnyHandle:
        return self.registry.get("dispatcher", "main")

    def session(self, sid: str) -> AnyHandle:
        """The handle of session ``sid`` (made if absent: for ids the server trusts)."""
        return self.registry.get("session", sid)

    def find_session(self, sid: str) -> ActorHandle | None:
        """The local handle of session ``sid`` if one exists already (never makes one)."""
        return self.registry.find(f"session:{sid}")

    def agent(self, kefu_id: str) -> AnyHandle:
        return self.registry.get("agent", kefu_id)

    # cluster mode -------------------------------------------------------------------
    @property
    def node(self) -> str:
        """This node's id ('' in single-process mode)."""
        return self.cluster.node if self.cluster is not None else ""

    def fence(self, kind: str, key: str) -> Fence:
        """The fence for writes of ``kind:key`` (unfenced in single-process mode)."""
        return self.cluster.fence(kind, key) if self.cluster is not None else UNFENCED

    def fenced(self, kind: str, key: str) -> None:
        metrics.FENCED_WRITES.labels(metrics.actor_kind(kind)).inc()
        if self.cluster is not None:
            self.cluster.fenced(kind, key)

    def ack(self, receipt: Receipt | None) -> None:
        if receipt is not None and self.cluster is not None:
            self.cluster.ack(receipt)

    def supervisor_told(self, died: ActorDied) -> None:
        """Report a dead actor to the supervisor (called on the dying actor's thread)."""
        if self.supervisor is not None:
            self.supervisor.tell(died)

    def event(self, level: str, actor: str, event: str, **fields: Any) -> None:
        """A structured system event: logged, and appended to the capped Redis stream.

        While Redis is away the entry waits in memory (the last ``UNSTORED_EVENTS``) and is
        stored, in order, with the next event that can be.

        Args:
            level: ``info``, ``warning``, ``error`` or ``critical``.
            actor: who it is about (``dispatcher:main``, ``server``, ``redis``…).
            event: what happened, one word (``actor_restarted``).
            **fields: details, JSON-encoded (anything else as its ``str``).
        """
        log.log(logging.getLevelName(level.upper()), "%s %s %s", actor, event, fields,
                 extra={EVENT_ATTR: {"actor": actor, "event": event, "fields": fields}})
        entry = {"level": level, "actor": actor, "event": event, "ts": time.time(),
                 "fields": orjson.dumps(fields, default=str).decode()}
        with self._unstored_lock:
            self._unstored.append(entry)
            try:
                pipe = self.store.client.pipeline(transaction=False)
                for e in self._unstored:
                    pipe.xadd(self.store.keys.system_log, e, maxlen=100_000, approximate=True)
                pipe.execute()
            except REDIS_ERRORS:
                return
            self._unstored.clear()
