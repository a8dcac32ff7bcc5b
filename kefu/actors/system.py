"""Wiring of the actor system: factories, start-up restore and shut-down order."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from typing import Any

import pykka

from kefu.actors.agent import Agent
from kefu.actors.dispatcher import Dispatcher
from kefu.actors.handles import ActorHandle, Registry
from kefu.actors.messages import GetDispatcherState, Tick
from kefu.actors.runtime import Runtime, frame
from kefu.actors.session import Session
from kefu.actors.supervisor import Supervisor

log = logging.getLogger(__name__)


def build_registry(rt_ref: list[Runtime]) -> Registry:
    """A registry whose factories start each kind of actor with the runtime."""
    registry = Registry()

    def factory_for(cls: type[Any]) -> Any:
        def make(_key: str) -> Any:
            def start(handle: ActorHandle) -> pykka.ActorRef[Any]:
                return cls.start(handle, rt_ref[0])
            return start
        return make

    registry.define("dispatcher", factory_for(Dispatcher))
    registry.define("agent", factory_for(Agent))
    registry.define("session", factory_for(Session))
    return registry


def in_tick_slice(key: str, number: int, every: int) -> bool:
    """Whether the session ``key`` hears tick ``number`` (one tick in ``every``)."""
    return zlib.crc32(key.encode()) % every == number % every


class ActorSystem:
    """Starts, restores, ticks and stops every actor. Used from the main thread."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _refused(self, msg: Any, reason: str) -> None:
        """A failed actor could not take ``msg``: tell its sender's connection."""
        conn_id = getattr(msg, "conn_id", None)
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, frame("error", code=reason, message=reason,
                                                  ref=getattr(msg, "client_msg_id", None)))

    def start(self) -> None:
        """Start the supervisor and the dispatcher; the dispatcher restores the queue,
        the assignments and starts every active session's actor (before the port opens)."""
        self.rt.registry.on_refuse = self._refused
        self.rt.supervisor = Supervisor.start(self.rt)
        dispatcher = self.rt.dispatcher()
        dispatcher.ensure_started()
        restored = threading.Event()  # the port opens only once the queue is restored
        dispatcher.tell(GetDispatcherState(reply=lambda _result: restored.set()))
        if not restored.wait(30):
            log.error("the dispatcher did not restore its state within 30 s")
        # The dispatcher starts the sessions in its on_start; agents with customers too.
        r, k = self.rt.store.client, self.rt.store.keys
        kefu_ids = {sid.split(":")[1] for sid in r.hvals(k.assignments)}
        for kefu_id in kefu_ids:
            self.rt.agent(kefu_id).ensure_started()

    def tick(self, now: float, number: int, every: int) -> None:
        """Tell ``Tick`` to the dispatcher, and to the live sessions that are due (their
        idle end or linger has come, ``handle.due``) in slice ``number % every``: a due
        session hears a Tick within ``every`` ticks, and sessions are spread over those
        ticks (``crc32`` of the id). Waking 5,000 session threads at once for nothing
        stalled the loop for about a second (benchmark "connections").

        Called on the IOLoop thread by a periodic callback; never blocks."""
        self.rt.dispatcher().tell(Tick(now=now))
        for handle in self.rt.registry.all():
            if (handle.kind == "session" and handle.state == "running"
                    and handle.due <= now and in_tick_slice(handle.key, number, every)):
                handle.tell(Tick(now=now))

    def stop(self) -> None:
        """Sessions and agents first, then the dispatcher, then the supervisor."""
        self.rt.registry.closed.set()
        handles = self.rt.registry.all()
        deadline = time.monotonic() + 20  # one budget for all, not a timeout per actor
        for kind in ("session", "agent", "dispatcher"):
            futures = [f for h in handles if h.kind == kind and (f := h.stop()) is not None]
            for future in futures:
                try:
                    future.get(timeout=max(deadline - time.monotonic(), 0.01))
                except (pykka.Timeout, pykka.ActorDeadError):
                    pass
        if self.rt.supervisor is not None:
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                self.rt.supervisor.stop(block=True, timeout=5)
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
