"""The supervisor: restarts dead actors from their snapshot, within an intensity limit.

pykka has no supervisor (jodal/pykka#42); this one is a plain actor, reached through an
:class:`~kefu.actors.handles.ActorHandle` like every other, and told ``ActorDied`` by each
supervised actor's ``on_failure``. More than ``restart_intensity`` restarts within
``restart_period`` seconds mark the actor failed (health turns 503) until an operator
restarts it; an operator's restart is not counted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pykka

from kefu import metrics
from kefu.actors.handles import ActorHandle, HandleState
from kefu.actors.messages import Accepted, ActorDied, Crash, Envelope, Rejected, RestartActor
from kefu.actors.runtime import Runtime
from kefu.protocol import RejectReason

log = logging.getLogger(__name__)


class Supervisor(pykka.ThreadingActor):
    """Owns the restart bookkeeping of every handle (its own thread)."""

    use_daemon_thread = True

    def __init__(self, handle: ActorHandle, rt: Runtime) -> None:
        super().__init__()
        self.handle = handle
        self.rt = rt

    def on_receive(self, message: Any) -> None:
        env: Envelope = message
        match env.msg:
            case ActorDied() as died:
                self._handle_died(died)
            case RestartActor() as restart:
                result = self._handle_restart(restart)
                if env.reply is not None:
                    env.reply(result)
            case _ if env.reply is not None:
                env.reply(None)  # anything else asked: an answer once all before is done

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        log.critical("the supervisor died (%s): actors will no longer be restarted", exc)

    def _handle_died(self, msg: ActorDied) -> None:
        handle = self.rt.registry.find(msg.actor_id)
        if handle is None:
            return
        now = time.monotonic()
        kind = metrics.actor_kind(handle.id)
        if not msg.operator:
            metrics.ACTOR_FAILURES.labels(kind, "failure").inc()
            with handle.lock:
                times = handle.restart_times
                times.append(now)
                while times and now - times[0] > self.rt.settings.restart_period:
                    times.popleft()
                recent = len(times)
            if recent > self.rt.settings.restart_intensity:
                handle.fail()
                metrics.ACTOR_FAILURES.labels(kind, "gave_up").inc()
                self.rt.event("error", handle.id, "actor_failed", error=msg.error,
                              restarts=recent)
                return
        try:
            handle.restart()
        except Exception as exc:  # noqa: BLE001 - a factory that cannot start: failed
            handle.fail()
            metrics.ACTOR_FAILURES.labels(kind, "gave_up").inc()
            self.rt.event("error", handle.id, "actor_failed", error=repr(exc))
            return
        with handle.lock:
            handle.restarts += 1
        metrics.ACTOR_RESTARTS.labels(kind).inc()
        self.rt.event("info" if msg.operator else "warning", handle.id, "actor_restarted",
                      error=msg.error, operator=msg.operator)

    def _handle_restart(self, msg: RestartActor) -> Accepted | Rejected:
        handle = self.rt.registry.find(msg.actor_id)
        if handle is None:
            return Rejected(reason=RejectReason.ACTOR_NOT_FOUND)
        if handle.state in (HandleState.FAILED, HandleState.STOPPED):
            with handle.lock:
                handle.restart_times.clear()
                handle.restart()
                handle.restarts += 1
            metrics.ACTOR_RESTARTS.labels(metrics.actor_kind(handle.id)).inc()
            self.rt.event("info", handle.id, "actor_restarted", operator=True)
        else:
            handle.tell(Crash(operator=True))
        return Accepted(data=handle.describe())
