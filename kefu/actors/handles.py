"""Stable handles to actors that may stop, crash and be restarted.

Everyone reaches an actor through its :class:`ActorHandle`, never a raw ``ActorRef``: the
handle starts the actor on demand (a session re-activated from Redis), keeps what is told
while the supervisor restarts it, and refuses (answering ``Rejected(actor_failed)``)
while it is failed. Its lock makes "take the dead actor's inbox" and "tell" mutually
exclusive, so no message falls between a crash and the restart. Everything that travels
is an :class:`~kefu.actors.messages.Envelope`: the message, and for an ask its reply.

In cluster mode the registry has a :class:`Placement`: an actor whose shard another node
owns is reached through a :class:`RemoteHandle` (its shard's inbox stream), and a local
handle whose shard has moved away since forwards instead of starting its actor here.

Every public method is thread-safe. The handle's fields are written under its lock (by
the actor's thread when it dies or retires, by the supervisor when it restarts it, by
any thread that tells); ``describe`` reads them under the lock too.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

import pykka

from kefu.actors.messages import ActorMessage, Envelope, Rejected, ReplyFn
from kefu.protocol import RejectReason

log = logging.getLogger(__name__)

Factory = Callable[["ActorHandle"], pykka.ActorRef[Any]]
Refused = Callable[[Envelope, RejectReason], None]


class Placement(Protocol):
    """Where an actor lives (cluster mode: ``kefu/cluster/router.py``). Thread-safe."""

    def local(self, kind: str, key: str) -> bool:
        """Does this node own the actor's shard right now?"""

    def forward(self, kind: str, key: str, env: Envelope) -> None:
        """Send ``env`` to the actor's shard inbox (never blocks)."""


class HandleState(StrEnum):
    STOPPED = "stopped"  # not running; the next tell starts it
    RUNNING = "running"
    RESTARTING = "restarting"  # died; the supervisor will start it again
    FAILED = "failed"  # past the restart intensity; refuses until an operator restarts it


class ActorHandle:
    """One supervised actor identity (``kind:key``)."""

    def __init__(self, kind: str, key: str, factory: Factory,
                 on_refuse: Refused | None = None,
                 closed: threading.Event | None = None,
                 placement: Placement | None = None) -> None:
        self.kind = kind
        self.placement = placement
        self.key = key
        self.factory = factory
        self.on_refuse = on_refuse
        self.closed = closed or threading.Event()
        self.lock = threading.RLock()
        self.ref: pykka.ActorRef[Any] | None = None
        self.state = HandleState.STOPPED
        self.buffer: list[Envelope] = []  # told while restarting
        self.leftovers: list[Any] = []  # pykka envelopes the dead incarnation never handled
        self.restart_times: deque[float] = deque()  # the supervisor's
        self.restarts = 0
        self.last_failure: str | None = None
        self.last_failure_at: float | None = None
        # When the actor next has something to do on a Tick (wall clock; 0 = at once).
        # Written by the actor's own thread, read by the ticker on the loop: a float
        # assignment, so no lock; a stale read only delays or adds one Tick.
        self.due = 0.0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def tell(self, msg: ActorMessage) -> None:
        """Deliver ``msg`` (start the actor if it is stopped); never blocks on it."""
        self.post(Envelope(msg))

    def ask(self, msg: ActorMessage, reply: ReplyFn) -> None:
        """Deliver ``msg``; ``reply`` is called once with the answer, on the actor's thread
        (with ``Rejected(actor_failed)`` if it cannot be handled)."""
        self.post(Envelope(msg, reply))

    def _elsewhere(self) -> bool:
        return self.placement is not None and not self.placement.local(self.kind, self.key)

    def post(self, env: Envelope) -> None:
        """Deliver an envelope as it is (the inbox reader's, with its receipt)."""
        with self.lock:
            if self.state is HandleState.RUNNING and self.ref is not None:
                try:
                    self.ref.tell(env)
                    return
                except pykka.ActorDeadError:
                    # pykka marks a crashing actor dead before its on_failure runs: keep
                    # the message for the restart (crashed() takes the old inbox next)
                    self.state = HandleState.RESTARTING
            if self.state is HandleState.RESTARTING:
                self.buffer.append(env)
                return
            if self.state is HandleState.FAILED:
                self._refuse(env)
                return
            if self.closed.is_set():  # shutting down: start nothing new
                refuse(env, RejectReason.ACTOR_FAILED)
                return
            if self._elsewhere():  # its shard is another node's now
                assert self.placement is not None
                self.placement.forward(self.kind, self.key, env)
                return
            self.ref = self.factory(self)
            self.state = HandleState.RUNNING
            self.ref.tell(env)

    def ensure_started(self) -> None:
        """Start the actor if it is not running (start-up restore)."""
        with self.lock:
            if self.closed.is_set() or self._elsewhere():
                return
            if self.state is HandleState.STOPPED or (
                self.state is HandleState.RUNNING and (self.ref is None
                                                       or not self.ref.is_alive())):
                self.ref = self.factory(self)
                self.state = HandleState.RUNNING

    def mailbox_depth(self) -> int:
        with self.lock:
            ref, waiting = self.ref, len(self.buffer) + len(self.leftovers)
        return waiting + (ref.actor_inbox.qsize() if ref is not None else 0)

    def alive(self) -> bool:
        with self.lock:
            ref = self.ref
            return self.state is HandleState.RUNNING and ref is not None and ref.is_alive()

    # --- called on the actor's own thread ---------------------------------------------

    def crashed(self, actor: pykka.Actor, error: str) -> bool:
        """The actor died: stop routing to it and keep what was left in its inbox for the
        restart. Returns False if ``actor`` is an old incarnation the handle moved on from.
        """
        with self.lock:
            if self.ref is not None and self.ref.actor_urn != actor.actor_urn:
                return False
            while True:
                try:
                    self.leftovers.append(actor.actor_inbox.get_nowait())
                except queue.Empty:
                    break
            self.state = HandleState.RESTARTING
            self.last_failure = error
            self.last_failure_at = time.time()
            return True

    def retire(self, actor: pykka.Actor) -> bool:
        """An idle actor asks to stop. True if it may (nothing is waiting for it); the next
        ``tell`` starts a fresh one."""
        with self.lock:
            if self.ref is None or self.ref.actor_urn != actor.actor_urn:
                return True
            if not actor.actor_inbox.empty():
                return False
            self.state = HandleState.STOPPED
            self.ref = None
            return True

    # --- called by the supervisor -----------------------------------------------------

    def restart(self) -> None:
        """Start a new incarnation and hand it what the old one never handled, then what
        was told meanwhile, in that order."""
        with self.lock:
            leftovers, self.leftovers = self.leftovers, []
            if self.closed.is_set():
                self.state = HandleState.STOPPED
                return
            if self._elsewhere():  # its shard moved while it was down: on to the owner
                assert self.placement is not None
                self.state = HandleState.STOPPED
                for env in [getattr(e, "message", e) for e in leftovers] + self.buffer:
                    self.placement.forward(self.kind, self.key, env)
                self.buffer.clear()
                return
            self.ref = self.factory(self)
            for envelope in leftovers:
                self.ref.actor_inbox.put(envelope)
            for env in self.buffer:
                self.ref.tell(env)
            self.buffer.clear()
            self.state = HandleState.RUNNING

    def fail(self) -> None:
        """Past the restart intensity: refuse everything until an operator restarts it."""
        with self.lock:
            self.state = HandleState.FAILED
            self.ref = None
            pending = [getattr(e, "message", e) for e in self.leftovers] + self.buffer
            self.leftovers, self.buffer = [], []
        for env in pending:
            self._refuse(env)

    def _refuse(self, env: Envelope) -> None:
        refuse(env, RejectReason.ACTOR_FAILED)
        if self.on_refuse is not None:
            try:
                self.on_refuse(env, RejectReason.ACTOR_FAILED)
            except Exception:  # a hook's bug must not lose the other refusals
                log.exception("refuse hook failed")

    def stop(self) -> pykka.Future[Any] | None:
        """Ask the actor to stop (shut-down) → a future that resolves when it has, or None
        if it was not running. Does not wait: ``ActorSystem.stop`` waits for all at once."""
        with self.lock:
            ref, self.ref = self.ref, None
            self.state = HandleState.STOPPED
        if ref is None or not ref.is_alive():
            return None
        try:
            return ref.stop(block=False)
        except pykka.ActorDeadError:
            return None

    def describe(self) -> dict[str, Any]:
        with self.lock:
            state, restarts = self.state, self.restarts
            failure, failure_at = self.last_failure, self.last_failure_at
        return {"actor_id": self.id, "kind": self.kind, "id": self.key, "state": state.value,
                "alive": self.alive(), "mailbox_depth": self.mailbox_depth(),
                "restarts": restarts, "last_failure": failure, "last_failure_at": failure_at}


def refuse(env: Envelope, reason: RejectReason) -> None:
    """Answer an envelope that cannot be handled (its asker must not wait forever)."""
    if env.reply is not None:
        try:
            env.reply(Rejected(reason=reason))
        except Exception:  # the asker's callback: log it, keep refusing the others
            log.exception("reply failed")


class RemoteHandle:
    """An actor on another node (cluster mode): what is told or asked goes to its shard's
    inbox stream. Made per use, never registered. Thread-safe."""

    __slots__ = ("key", "kind", "placement")

    def __init__(self, kind: str, key: str, placement: Placement) -> None:
        self.kind, self.key, self.placement = kind, key, placement

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def tell(self, msg: ActorMessage) -> None:
        self.placement.forward(self.kind, self.key, Envelope(msg))

    def ask(self, msg: ActorMessage, reply: ReplyFn) -> None:
        self.placement.forward(self.kind, self.key, Envelope(msg, reply))

    def post(self, env: Envelope) -> None:
        self.placement.forward(self.kind, self.key, env)

    def ensure_started(self) -> None:
        """Another node starts it."""

    def alive(self) -> bool:
        return False


AnyHandle = ActorHandle | RemoteHandle


class Registry:
    """Every local actor handle, by ``kind:key``. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: dict[str, ActorHandle] = {}
        self._factories: dict[str, Callable[[str], Factory]] = {}
        self.on_refuse: Refused | None = None
        self.closed = threading.Event()
        self.placement: Placement | None = None  # cluster mode: set before any actor starts

    def define(self, kind: str, make_factory: Callable[[str], Factory]) -> None:
        """Register how to build the actor of ``kind`` for a given key."""
        self._factories[kind] = make_factory

    def get(self, kind: str, key: str) -> ActorHandle | RemoteHandle:
        """The handle of ``kind:key``, made (not started) if there is none yet; in
        cluster mode a :class:`RemoteHandle` when another node owns its shard."""
        if self.placement is not None and not self.placement.local(kind, key):
            with self._lock:
                handle = self._handles.get(f"{kind}:{key}")
            if handle is None or handle.state is HandleState.STOPPED:
                return RemoteHandle(kind, key, self.placement)
            return handle  # still running here: it forwards itself once stopped
        return self.local(kind, key)

    def local(self, kind: str, key: str) -> ActorHandle:
        """The local handle of ``kind:key`` (made if absent): the inbox reader's, for a
        shard this node owns."""
        actor_id = f"{kind}:{key}"
        with self._lock:
            handle = self._handles.get(actor_id)
            if handle is None:
                handle = ActorHandle(kind, key, self._factories[kind](key), self.on_refuse,
                                     self.closed, self.placement)
                self._handles[actor_id] = handle
            return handle

    def find(self, actor_id: str) -> ActorHandle | None:
        """The handle of ``actor_id`` if there is one (never makes one)."""
        with self._lock:
            return self._handles.get(actor_id)

    def all(self) -> list[ActorHandle]:
        with self._lock:
            return list(self._handles.values())

    def drop(self, handle: ActorHandle) -> None:
        """Forget a stopped handle (a retired session); the next ``get`` makes a new one."""
        with self._lock:
            if (self._handles.get(handle.id) is handle
                    and handle.state is HandleState.STOPPED):
                del self._handles[handle.id]
