"""The base of every supervised actor: one reply channel, failure reporting, lazy loading.

A subclass implements ``load()`` (read its state from Redis, on its own thread, before
its first message) and
``handle_message(msg)`` (one ``match`` over the message types). Every message arrives in
an :class:`~kefu.actors.messages.Envelope`; the result of ``handle_message`` goes to the
envelope's ``reply``, if it has one — the only channel (pykka's own ``ask`` is never
used). Any exception in ``handle_message`` is a bug: the actor dies, its asker gets
``Rejected(internal)``, and the supervisor restarts it from its snapshot with whatever was
left in its inbox. Redis being away is not a bug: ``load`` is retried on the next message
and handlers turn Redis errors into ``Rejected(storage_unavailable)``.

In cluster mode a message that came from a shard's inbox stream carries a receipt; it is
acknowledged once handled (or once it crashed its actor: a message that kills an actor is
not handed to it again), unless the handler took the receipt to acknowledge it later
(:meth:`SupervisedActor.take_receipt`: a session's message, once its append is decided).
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any

import pykka

from kefu.actors.messages import (
    Accepted,
    ActorDied,
    ActorMessage,
    Crash,
    Envelope,
    Receipt,
    Rejected,
)
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle
    from kefu.actors.runtime import Runtime

log = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised on purpose by fault injection, or to recycle an actor for an operator."""

    def __init__(self, actor_id: str, operator: bool) -> None:
        super().__init__(f"{'operator restart' if operator else 'injected fault'} in "
                         f"{actor_id}")
        self.operator = operator


class SupervisedActor(pykka.ThreadingActor):
    """An actor that reports its death to the supervisor and answers every ask."""

    use_daemon_thread = True  # a stray actor never keeps the process alive at exit

    def __init__(self, handle: ActorHandle, rt: Runtime) -> None:
        super().__init__()
        self.handle = handle
        self.rt = rt
        self.loaded = False
        self.receipt: Receipt | None = None  # of the message being handled (cluster mode)

    # --- subclass hooks -------------------------------------------------------------

    def load(self) -> None:
        """Read this actor's state from Redis (its own thread)."""

    def handle_message(self, msg: ActorMessage) -> Any:
        """One ``match`` over the message types (subclasses); unknown ones are refused."""
        return Rejected(reason=RejectReason.BAD_REQUEST)

    def take_receipt(self) -> Receipt | None:
        """The current message's inbox receipt, now the handler's to acknowledge."""
        receipt, self.receipt = self.receipt, None
        return receipt

    # --- pykka hooks ----------------------------------------------------------------

    def _try_load(self) -> bool:
        """Load on the first message (a bug in ``load`` then fails like any handler)."""
        if self.loaded:
            return True
        try:
            self.load()
        except REDIS_ERRORS as exc:
            log.warning("%s: cannot load its state yet: %s", self.handle.id, exc)
            return False
        self.loaded = True
        return True

    def on_receive(self, message: Any) -> None:
        env: Envelope = message
        msg = env.msg
        self.receipt = env.receipt
        try:
            if isinstance(msg, Crash):
                raise InjectedFault(self.handle.id, msg.operator)
            if not self._try_load():
                result: Any = Rejected(reason=RejectReason.STORAGE_UNAVAILABLE)
            else:
                result = self.handle_message(msg)
        except BaseException:
            if env.reply is not None:
                env.reply(Accepted(data={"actor_id": self.handle.id}) if isinstance(msg, Crash)
                          else Rejected(reason=RejectReason.INTERNAL))
            self.rt.ack(self.take_receipt())
            raise
        if env.reply is not None:
            env.reply(result)
        self.rt.ack(self.take_receipt())

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        if self.handle.crashed(self, error):
            self.rt.supervisor_told(ActorDied(
                actor_id=self.handle.id, error=error,
                operator=isinstance(exc, InjectedFault) and exc.operator))
