"""The base of every supervised actor: replies, failure reporting, lazy loading.

A subclass implements ``load()`` (read its snapshot from Redis) and ``handle(msg)`` (one
``match`` over the message types). Any exception in ``handle`` is a bug: the actor dies,
its caller gets ``Rejected(500)``, and the supervisor restarts it from its snapshot with
whatever was left in its inbox. Redis being away is not a bug: ``load`` is retried on the
next message and handlers turn Redis errors into ``Rejected(503)``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, Any

import pykka

from kefu.actors.messages import Accepted, Crash, Msg, Rejected
from kefu.persistence.redis import REDIS_ERRORS

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle
    from kefu.actors.runtime import Runtime

log = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised on purpose by fault injection."""


class SupervisedActor(pykka.ThreadingActor):
    """An actor that reports its death to the supervisor and answers every ``reply``."""

    use_daemon_thread = True  # a stray actor never keeps the process alive at exit

    def __init__(self, handle: ActorHandle, rt: Runtime) -> None:
        super().__init__()
        self.handle = handle
        self.rt = rt
        self.loaded = False

    # --- subclass hooks -------------------------------------------------------------

    def load(self) -> None:
        """Read this actor's snapshot from Redis (its own thread)."""

    def handle_message(self, msg: Any) -> Any:
        """One ``match`` over the message types (subclasses); unknown ones are refused."""
        return Rejected(status=400, reason="bad_request")

    # --- pykka hooks ----------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self._try_load()
        except Exception:  # noqa: BLE001 - a bug in load: report like any crash
            info = sys.exc_info()
            self._handle_failure(*info)
            self.on_failure(*info)

    def _try_load(self) -> bool:
        if self.loaded:
            return True
        try:
            self.load()
        except REDIS_ERRORS as exc:
            log.warning("%s: cannot load its snapshot yet: %s", self.handle.id, exc)
            return False
        self.loaded = True
        return True

    def on_receive(self, message: Any) -> Any:
        reply = message.reply if isinstance(message, Msg) else None
        try:
            if isinstance(message, Crash):
                mark = "OperatorRestart" if message.operator else "injected fault"
                raise InjectedFault(f"{mark} in {self.handle.id}")
            if not self._try_load():
                result: Any = Rejected(status=503, reason="storage_unavailable")
            else:
                result = self.handle_message(message)
        except BaseException as exc:
            if reply is not None:
                if isinstance(message, Crash):
                    reply(Accepted(data={"actor_id": self.handle.id}))
                else:
                    reply(Rejected(status=500, reason="internal"))
            raise exc
        if reply is not None:
            reply(result)
        return result

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        leftovers = self.handle.crashed(self, error)
        self.rt.supervisor_died(self.handle, leftovers, error)
