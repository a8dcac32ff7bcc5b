"""The supervisor: restarts dead actors from their snapshot, within an intensity limit.

pykka has no supervisor (jodal/pykka#42); this one is a plain actor told by each
supervised actor's ``on_failure``. More than ``restart_intensity`` restarts within
``restart_period`` seconds mark the actor failed (health turns 503) until an operator
restarts it.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from kefu.actors.handles import ActorHandle
from kefu.actors.messages import Accepted, ActorDied, Crash, Rejected, RestartActor
from kefu.actors.runtime import Runtime

RECYCLE_MARK = "OperatorRestart"


class Supervisor(pykka.ThreadingActor):
    """Owns the restart bookkeeping of every handle."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt

    def on_receive(self, message: Any) -> Any:
        match message:
            case ActorDied():
                self._handle_died(message)
            case RestartActor():
                result = self._handle_restart(message)
                if message.reply is not None:
                    message.reply(result)
                return result
        return None

    def _handle_died(self, msg: ActorDied) -> None:
        handle: ActorHandle = msg.handle
        operator = RECYCLE_MARK in msg.error
        now = time.monotonic()
        if not operator:
            handle.restart_times.append(now)
            while handle.restart_times and now - handle.restart_times[0] > self.rt.settings.restart_period:
                handle.restart_times.popleft()
            if len(handle.restart_times) > self.rt.settings.restart_intensity:
                handle.fail(msg.leftovers)
                self.rt.event("error", handle.id, "actor_failed", error=msg.error,
                              restarts=len(handle.restart_times))
                return
        try:
            handle.restart(msg.leftovers)
        except Exception as exc:  # noqa: BLE001 - a factory that cannot start
            handle.fail(msg.leftovers)
            self.rt.event("error", handle.id, "actor_failed", error=repr(exc))
            return
        handle.restarts += 1
        self.rt.event("warning" if not operator else "info", handle.id, "actor_restarted",
                      error=msg.error, operator=operator)

    def _handle_restart(self, msg: RestartActor) -> Any:
        handle = self.rt.registry.find(msg.actor_id)
        if handle is None:
            return Rejected(status=404, reason="actor_not_found")
        if handle.state in ("failed", "stopped"):
            handle.restart_times.clear()
            handle.restart([])
            handle.restarts += 1
            self.rt.event("info", handle.id, "actor_restarted", operator=True)
        else:
            handle.tell(Crash(operator=True))
        return Accepted(data=handle.describe())
