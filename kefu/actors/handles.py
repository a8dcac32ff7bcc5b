"""Stable handles to actors that may stop, crash and be restarted.

Everyone reaches an actor through its :class:`ActorHandle`, never a raw ``ActorRef``:
the handle starts the actor on demand (a session re-activated from Redis), buffers what
is told while the supervisor restarts it, and refuses (replying ``Rejected``) while it is
failed. Its lock makes "drain the dead actor's inbox" and "tell" mutually exclusive, so no
message falls between a crash and the restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pykka

from kefu.actors.messages import Msg, Rejected

log = logging.getLogger(__name__)

Factory = Callable[["ActorHandle"], pykka.ActorRef[Any]]


class ActorHandle:
    """One supervised actor identity (``kind:key``). Thread-safe."""

    def __init__(self, kind: str, key: str, factory: Factory,
                 on_refuse: Callable[[Any, str], None] | None = None,
                 closed: threading.Event | None = None) -> None:
        self.kind = kind
        self.closed = closed or threading.Event()
        self.on_refuse = on_refuse
        self.key = key
        self.factory = factory
        self.lock = threading.RLock()
        self.ref: pykka.ActorRef[Any] | None = None
        self.state = "stopped"  # stopped | running | restarting | failed
        self.buffer: list[Any] = []
        self.restart_times: deque[float] = deque()
        self.restarts = 0
        self.last_failure: str | None = None
        self.last_failure_at: float | None = None
        # when the actor next has something to do on a Tick (wall clock; 0 = at once).
        # Written by the actor's own thread, read by the ticker on the loop: a float
        # assignment, so no lock; a stale read only delays or adds one Tick.
        self.due = 0.0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def tell(self, msg: Any) -> None:
        """Deliver ``msg`` (start the actor if it is stopped). Thread-safe, never blocks
        on the actor."""
        with self.lock:
            if self.state == "running" and self.ref is not None:
                try:
                    self.ref.tell(msg)
                    return
                except pykka.ActorDeadError:
                    # pykka marks a crashing actor dead before its on_failure runs: keep
                    # the message for the restart (crashed() drains the old inbox next)
                    self.state = "restarting"
            if self.state == "restarting":
                self.buffer.append(msg)
                return
            if self.state == "failed":
                self._refuse(msg)
                return
            if self.closed.is_set():  # shutting down: start nothing new
                refuse(msg, "actor_failed")
                return
            self.ref = self.factory(self)
            self.state = "running"
            self.ref.tell(msg)

    def ensure_started(self) -> None:
        """Start the actor if it is not running (start-up restore)."""
        with self.lock:
            if self.closed.is_set():
                return
            if self.state == "stopped" or (
                self.state == "running" and (self.ref is None or not self.ref.is_alive())
            ):
                self.ref = self.factory(self)
                self.state = "running"

    def mailbox_depth(self) -> int:
        ref = self.ref
        if ref is None:
            return len(self.buffer)
        return ref.actor_inbox.qsize() + len(self.buffer)

    def alive(self) -> bool:
        ref = self.ref
        return self.state == "running" and ref is not None and ref.is_alive()

    # --- called from the actor's own thread ---------------------------------------

    def crashed(self, actor: pykka.Actor, error: str) -> list[Any]:
        """The actor died: stop routing to it and take what was left in its inbox.

        Called on the dying actor's thread. Returns the leftover envelopes.
        """
        with self.lock:
            leftovers: list[Any] = []
            if self.ref is not None and self.ref.actor_urn != actor.actor_urn:
                return leftovers  # an old incarnation; the handle moved on
            while True:
                try:
                    leftovers.append(actor.actor_inbox.get_nowait())
                except Exception:  # noqa: BLE001 - queue.Empty
                    break
            self.state = "restarting"
            self.last_failure = error
            self.last_failure_at = time.time()
            return leftovers

    def retire(self, actor: pykka.Actor) -> bool:
        """An idle actor asks to stop. True if it may (nothing is waiting for it).

        Called on the actor's own thread; the next ``tell`` starts a fresh one.
        """
        with self.lock:
            if self.ref is None or self.ref.actor_urn != actor.actor_urn:
                return True
            if not actor.actor_inbox.empty():
                return False
            self.state = "stopped"
            self.ref = None
            return True

    # --- called by the supervisor ---------------------------------------------------

    def restart(self, leftovers: list[Any]) -> None:
        """Start a new incarnation and hand it what the old one never handled."""
        with self.lock:
            if self.closed.is_set():
                self.state = "stopped"
                return
            self.ref = self.factory(self)
            for envelope in leftovers:
                self.ref.actor_inbox.put(envelope)
            for msg in self.buffer:
                self.ref.tell(msg)
            self.buffer.clear()
            self.state = "running"

    def fail(self, leftovers: list[Any]) -> None:
        """Past the restart intensity: refuse everything until an operator restarts it."""
        with self.lock:
            self.state = "failed"
            self.ref = None
            pending = [getattr(e, "message", e) for e in leftovers] + self.buffer
            self.buffer = []
        for msg in pending:
            self._refuse(msg)

    def _refuse(self, msg: Any) -> None:
        refuse(msg, "actor_failed")
        if self.on_refuse is not None:
            try:
                self.on_refuse(msg, "actor_failed")
            except Exception:  # noqa: BLE001
                log.exception("refuse hook failed")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the actor (shut-down). Called from the main thread."""
        with self.lock:
            ref, self.ref = self.ref, None
            self.state = "stopped"
        if ref is not None and ref.is_alive():
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                ref.stop(block=True, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        return {
            "actor_id": self.id,
            "kind": self.kind,
            "id": self.key,
            "state": self.state,
            "alive": self.alive(),
            "mailbox_depth": self.mailbox_depth(),
            "restarts": self.restarts,
            "last_failure": self.last_failure,
            "last_failure_at": self.last_failure_at,
        }


def refuse(msg: Any, reason: str) -> None:
    """Answer a message that cannot be handled (its caller must not wait forever)."""
    reply = getattr(msg, "reply", None) if isinstance(msg, Msg) else None
    if reply is not None:
        try:
            reply(Rejected(status=503, reason=reason))
        except Exception:  # noqa: BLE001
            log.exception("reply failed")


class Registry:
    """Every actor handle, by ``kind:key``. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: dict[str, ActorHandle] = {}
        self._factories: dict[str, Callable[[str], Factory]] = {}
        self.on_refuse: Callable[[Any, str], None] | None = None
        self.closed = threading.Event()

    def define(self, kind: str, make_factory: Callable[[str], Factory]) -> None:
        """Register how to build the actor of ``kind`` for a given key."""
        self._factories[kind] = make_factory

    def get(self, kind: str, key: str) -> ActorHandle:
        actor_id = f"{kind}:{key}"
        with self._lock:
            handle = self._handles.get(actor_id)
            if handle is None:
                handle = ActorHandle(kind, key, self._factories[kind](key), self.on_refuse,
                                      self.closed)
                self._handles[actor_id] = handle
            return handle

    def find(self, actor_id: str) -> ActorHandle | None:
        with self._lock:
            return self._handles.get(actor_id)

    def all(self) -> list[ActorHandle]:
        with self._lock:
            return list(self._handles.values())

    def drop(self, handle: ActorHandle) -> None:
        with self._lock:
            if self._handles.get(handle.id) is handle and handle.state == "stopped":
                del self._handles[handle.id]
