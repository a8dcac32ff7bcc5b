"""Helpers for the actor tests: a recording outbox, reply callables and a runtime kit.

Nothing here sleeps to wait for an actor: waits are on a reply callable (a queue with a
timeout), on the outbox's condition variable, or on a supervisor round trip.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pykka

from kefu.actors.handles import ActorHandle
from kefu.actors.messages import (
    Accepted,
    ActorMessage,
    AgentPresence,
    GetDispatcherState,
    PostMessage,
    Rejected,
)
from kefu.actors.runtime import Runtime
from kefu.actors.system import ActorSystem
from kefu.http.handlers.base import REJECT_STATUS
from kefu.persistence.redis import Store
from kefu.persistence.users import UserStore

WAIT = 5.0
PARK_CONN = 990_000  # a connection id no test uses for chat: the parking gate's

Frame = dict[str, Any]


class Reply:
    """An ask's reply callable: records every call (it must be called exactly once)."""

    def __init__(self) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, value: Any) -> None:
        """Called on the actor's thread."""
        with self._lock:
            self.calls += 1
        self._q.put(value)

    def get(self, timeout: float = WAIT) -> Any:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reply within {timeout} s") from None


def http_status(result: Rejected) -> int:
    """The HTTP status a refusal becomes (the one table in kefu/http/handlers/base.py)."""
    return REJECT_STATUS[result.reason]


def call(handle: ActorHandle, msg: ActorMessage | type[ActorMessage], timeout: float = WAIT,
         **fields: Any) -> Any:
    """Ask ``handle`` with ``msg`` (or ``msg(**fields)`` for a message class) and wait for
    the reply, which must come exactly once."""
    if isinstance(msg, type):
        msg = msg(**fields)
    reply = Reply()
    handle.ask(msg, reply)
    value = reply.get(timeout)
    assert reply.calls == 1
    return value


class Gate:
    """Holds every ``to_conn`` for one connection until opened (test control only)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()


class RecordingOutbox:
    """The :class:`kefu.actors.runtime.Outbox` of the tests: records decoded frames per
    user and per connection, in order. Thread-safe; tests wait on its condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.log: list[tuple[str, Any, Frame]] = []  # (kind, target, frame) in order
        self.by_user: dict[str, list[Frame]] = defaultdict(list)
        self.by_conn: dict[int | None, list[Frame]] = defaultdict(list)
        self.counts: dict[str, int] = {}
        self.gates: dict[int, Gate] = {}
        self.routes: list[tuple[str, str, int]] = []  # route notices, in order

    # --- the Outbox protocol (called from actor and writer threads) -------------------

    def to_conn(self, conn_id: int | None, frame: bytes, sid: str | None = None,
                seq: int | None = None) -> None:
        gate = self.gates.get(conn_id) if conn_id is not None else None
        if gate is not None:
            gate.entered.set()
            gate.open.wait(10)
        decoded = orjson.loads(frame)
        with self.cond:
            self.by_conn[conn_id].append(decoded)
            self.log.append(("conn", conn_id, decoded))
            self.cond.notify_all()

    def to_users(self, user_ids: Iterable[str], frame: bytes,
                 exclude_conn: int | None = None) -> None:
        self._to_users(user_ids, orjson.loads(frame))

    def message(self, user_ids: Iterable[str], sid: str, seq: int, frame: bytes,
                exclude_conn: int | None = None) -> None:
        decoded = orjson.loads(frame)
        assert decoded["message"]["session_id"] == sid and decoded["message"]["seq"] == seq
        self._to_users(user_ids, decoded)

    def presence(self) -> dict[str, dict[str, int]]:
        with self.cond:
            return {"": dict(self.counts)}

    def kick(self, user_id: str, code: int, reason: str,
             tokens: Iterable[str] | None = None) -> None:
        with self.cond:
            self.log.append(("kick", user_id, {"code": code, "reason": reason}))

    def route(self, kehu_id: str, sid: str, route_seq: int, conn_id: int | None = None) -> None:
        with self.cond:
            self.routes.append((kehu_id, sid, route_seq))
            self.cond.notify_all()

    def _to_users(self, user_ids: Iterable[str], decoded: Frame) -> None:
        with self.cond:
            for uid in user_ids:
                self.by_user[uid].append(decoded)
                self.log.append(("user", uid, decoded))
            self.cond.notify_all()

    # --- test side ------------------------------------------------------------------

    @contextlib.contextmanager
    def gate(self, conn_id: int) -> Iterator[Gate]:
        """While inside, whoever calls ``to_conn(conn_id, ...)`` blocks in it."""
        gate = Gate()
        self.gates[conn_id] = gate
        try:
            yield gate
        finally:
            del self.gates[conn_id]
            gate.open.set()

    def user_frames(self, user_id: str, kind: str | None = None) -> list[Frame]:
        with self.cond:
            return [f for f in self.by_user.get(user_id, []) if kind in (None, f["type"])]

    def conn_frames(self, conn_id: int | None, kind: str | None = None) -> list[Frame]:
        with self.cond:
            return [f for f in self.by_conn.get(conn_id, []) if kind in (None, f["type"])]

    def index_of(self, target: Any, frame: Frame) -> int:
        """Position of ``frame`` (by identity) sent to ``target`` in the global log."""
        with self.cond:
            for i, (_kind, tgt, f) in enumerate(self.log):
                if tgt == target and f is frame:
                    return i
        raise AssertionError(f"frame not sent to {target}: {frame}")

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        if not result:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        return result

    def wait_user(self, user_id: str, kind: str, n: int = 1,
                  timeout: float = WAIT) -> list[Frame]:
        """Wait until ``user_id`` got at least ``n`` frames of ``kind``; return them all."""
        self.wait_for(lambda: len(self.user_frames(user_id, kind)) >= n,
                      f"{n} {kind!r} frame(s) to {user_id}", timeout)
        return self.user_frames(user_id, kind)

    def wait_conn(self, conn_id: int, kind: str, n: int = 1,
                  timeout: float = WAIT) -> list[Frame]:
        self.wait_for(lambda: len(self.conn_frames(conn_id, kind)) >= n,
                      f"{n} {kind!r} frame(s) on conn {conn_id}", timeout)
        return self.conn_frames(conn_id, kind)

    def acks(self, conn_id: int) -> dict[str, list[Frame]]:
        """client_msg_id → the stored messages acked to it on ``conn_id``, in order."""
        out: dict[str, list[Frame]] = defaultdict(list)
        for f in self.conn_frames(conn_id, "ack"):
            out[f["client_msg_id"]].append(f["message"])
        return out

    def wait_acks(self, conn_id: int, cmids: Iterable[str],
                  timeout: float = WAIT) -> dict[str, list[Frame]]:
        wanted = list(cmids)
        self.wait_for(lambda: all(c in self.acks(conn_id) for c in wanted),
                      f"acks of {len(wanted)} message(s) on conn {conn_id}", timeout)
        return self.acks(conn_id)


@dataclass
class Kit:
    """One runtime built by ``kefu.assembly.actor_system``, as the server builds it, with
    a RecordingOutbox in place of the Hub."""

    rt: Runtime
    system: ActorSystem
    outbox: RecordingOutbox
    store: Store
    users: UserStore
    stack: contextlib.ExitStack
    stopped: bool = field(default=False)

    # --- wiring ---------------------------------------------------------------------

    def stop(self) -> None:
        """Shut-down in reverse of start-up: actors, append log, Redis client. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        self.stack.close()

    # --- shortcuts ------------------------------------------------------------------

    @property
    def dispatcher(self) -> ActorHandle:
        return self.rt.dispatcher()

    def state(self) -> dict[str, Any]:
        result = call(self.dispatcher, GetDispatcherState)
        assert isinstance(result, Accepted), result
        return result.data

    def connect_agent(self, kefu_id: str, connections: int = 1) -> None:
        """What the WebSocket handler does when a kefu's socket opens or closes."""
        with self.outbox.cond:
            self.outbox.counts[kefu_id] = connections
        result = call(self.dispatcher, AgentPresence, kefu_id=kefu_id, connections=connections)
        assert isinstance(result, Accepted), result

    def supervisor_barrier(self) -> None:
        """Return once the supervisor has handled everything told to it before."""
        assert self.rt.supervisor is not None
        call(self.rt.supervisor, ActorMessage())  # it answers what it does not know with None

    @contextlib.contextmanager
    def parked(self, handle: ActorHandle, msg: Any = None) -> Iterator[None]:
        """Hold an actor on its own thread until the block exits.

        ``msg`` must make the actor send a frame to connection ``PARK_CONN`` (default: a
        ``PostMessage`` from a stranger, which a *session* answers with an error frame);
        the outbox blocks that call, so whatever the test tells meanwhile waits in the
        actor's inbox, in order, and is handled only after the block."""
        if msg is None:
            msg = PostMessage(sender_id="stranger", conn_id=PARK_CONN, client_msg_id=None,
                              content="park", content_type="Text")
        with self.outbox.gate(PARK_CONN) as gate:
            handle.tell(msg)
            assert gate.entered.wait(WAIT), "the actor did not reach the gate"
            yield

    def stream(self, sid: str) -> list[tuple[str, Frame]]:
        """The session's stored messages: (stream entry id, message), in stream order."""
        entries = self.store.client.xrange(self.store.keys.stream(sid))
        return [(eid, orjson.loads(fields["m"])) for eid, fields in entries]

    def meta(self, sid: str) -> dict[str, str]:
        return self.store.client.hgetall(self.store.keys.session(sid))


def session_actors_alive(cls: type) -> list[pykka.ActorRef[Any]]:
    return [ref for ref in pykka.ActorRegistry.get_by_class(cls) if ref.is_alive()]
