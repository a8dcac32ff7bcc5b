"""The actor system's life: start-up restore, the ticker, and shut-down in order.

Built and started by ``kefu/assembly.py``; every method here is called from the thread
that owns the server (the IOLoop's), and none blocks it except start and stop.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from typing import Any

import pykka

from kefu import protocol
from kefu.actors.handles import ActorHandle, HandleState
from kefu.actors.messages import Envelope, GetDispatcherState, RestartActor, Tick
from kefu.actors.runtime import Runtime
from kefu.protocol import RejectReason

log = logging.getLogger(__name__)
RESTORE_TIMEOUT = 30.0
STOP_BUDGET = 20.0  # seconds for every actor to stop, all kinds together


def in_tick_slice(key: str, number: int, every: int) -> bool:
    """Whether the session ``key`` hears tick ``number`` (one tick in ``every``)."""
    return zlib.crc32(key.encode()) % every == number % every


class ActorSystem:
    """Starts, restores, ticks and stops every actor."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _refused(self, env: Envelope, reason: RejectReason) -> None:
        """A failed actor could not take a message: tell its sender's connection, and
        (cluster mode) acknowledge its inbox entry — it was answered (the handle's refuse
        hook, called on whichever thread told it)."""
        msg = env.msg
        self.rt.ack(env.receipt)
        conn_id = getattr(msg, "conn_id", None)
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, protocol.error(
                reason, getattr(msg, "client_msg_id", None)))

    def start(self) -> None:
        """Start the supervisor and the dispatcher, and wait until the dispatcher has
        restored the queue and the assignments and started every active session's actor
        and their agents (before the port opens). In cluster mode only the supervisor:
        the other actors start with the shards this node acquires (``cluster/node.py``)."""
        rt = self.rt
        rt.registry.on_refuse = self._refused
        assert rt.supervisor is not None
        rt.supervisor.ensure_started()
        if rt.cluster is not None:
            return
        dispatcher = rt.dispatcher()
        restored = threading.Event()
        dispatcher.ask(GetDispatcherState(), lambda _result: restored.set())
        if not restored.wait(RESTORE_TIMEOUT):
            log.error("the dispatcher did not restore its state within %s s", RESTORE_TIMEOUT)
        for kefu_id in {sid.split(":")[1] for sid in
                        rt.store.client.hvals(rt.store.keys.assignments)}:
            rt.agent(kefu_id).ensure_started()

    def tick(self, now: float, number: int, every: int) -> None:
        """Tell ``Tick`` to the dispatcher, and to the live sessions that are due (their
        idle end or linger has come, ``handle.due``) in slice ``number % every``: a due
        session hears a Tick within ``every`` ticks, and sessions are spread over those
        ticks (``crc32`` of the id). Waking 5,000 session threads at once for nothing
        stalled the loop for about a second (benchmark "connections").

        Called on the IOLoop thread by a periodic callback; never blocks. In cluster mode
        only this node's actors hear it (the dispatcher where it lives)."""
        dispatcher = self.rt.dispatcher()
        if isinstance(dispatcher, ActorHandle):
            dispatcher.tell(Tick(now=now))
        for handle in self.rt.registry.all():
            if (handle.kind == "session" and handle.state is HandleState.RUNNING
                    and handle.due <= now and in_tick_slice(handle.key, number, every)):
                handle.tell(Tick(now=now))

    # --- operators (any thread) ----------------------------------------------------------

    def describe(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every actor (of ``kind``), as ``/api/system/actors`` lists them, by id."""
        return sorted((h.describe() for h in self.rt.registry.all()
                       if kind is None or h.kind == kind), key=lambda a: a["actor_id"])

    def health(self) -> dict[str, Any]:
        """Counts for the health check: total, running, failed ids, dispatcher alive."""
        handles = self.rt.registry.all()
        dispatcher = self.rt.dispatcher()
        alive = dispatcher.alive() if isinstance(dispatcher, ActorHandle) else (
            self.rt.cluster is not None and self.rt.cluster.dispatcher_owner is not None)
        return {"total": len(handles), "running": sum(h.alive() for h in handles),
                "failed": [h.id for h in handles if h.state is HandleState.FAILED],
                "dispatcher_alive": alive}

    def recycle_all(self) -> None:
        """Restart every running actor from the store (after a flush changed it under
        them), through the supervisor."""
        if self.rt.supervisor is None:
            return
        for handle in self.rt.registry.all():
            if handle.alive():
                self.rt.supervisor.tell(RestartActor(actor_id=handle.id))

    def stop(self) -> None:
        """Sessions and agents first, then the dispatcher, then the supervisor: each kind
        is asked to stop all at once, and waited for against one deadline for all."""
        rt = self.rt
        rt.registry.closed.set()
        handles = rt.registry.all()
        deadline = time.monotonic() + STOP_BUDGET
        for kinds in (("session", "agent"), ("dispatcher",)):
            futures = [f for h in handles if h.kind in kinds if (f := h.stop()) is not None]
            _wait(futures, deadline)
        if rt.supervisor is not None:
            _wait([f for f in [rt.supervisor.stop()] if f is not None], deadline)
        pykka.ActorRegistry.stop_all(block=True, timeout=max(deadline - time.monotonic(), 1))


def _wait(futures: list[pykka.Future[Any]], deadline: float) -> None:
    for future in futures:
        try:
            future.get(timeout=max(deadline - time.monotonic(), 0.01))
        except (pykka.Timeout, pykka.ActorDeadError):
            pass
