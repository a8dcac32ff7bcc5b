"""What an append's outcome means for sockets and for the session (the actor side of the
append log, ``persistence/appends.py``).

A session submits each message with a :class:`Post` (who sent it, over which connection,
and what to hand back if it cannot be stored) and :meth:`Delivery.done` as the callback.
On the append log's thread, ``done`` turns a stored message into its ``ack`` to the
sender's connection and its ``message`` to both participants (through the Outbox, which
hops onto the IOLoop), in the order the log wrote them. Any other outcome goes to the
session as an :class:`~kefu.actors.messages.AppendOutcome`, whose handler runs on the
session's own thread. Every object that crosses here is frozen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from kefu import protocol
from kefu.actors.messages import AgentFiguresAdded, AppendOutcome
from kefu.actors.post import Post
from kefu.persistence.appends import Appended, AppendStatus
from kefu.protocol import RejectReason

if TYPE_CHECKING:
    from kefu.actors.handles import ActorHandle
    from kefu.actors.runtime import Outbox, Runtime


def redeliver(outbox: Outbox, conn_id: int | None, cmid: str | None, stored: bytes) -> None:
    """A resend of a stored message: its ``ack`` again, and the message to both sides in
    case the first attempt's delivery was lost with its reply (``outcome_unknown``);
    connections that hold its seq already drop it. Thread-safe."""
    m = orjson.loads(stored)
    sid, seq = m.get("session_id"), m.get("seq")
    if sid is None or seq is None:  # still a waiting message: nothing to deliver yet
        outbox.to_conn(conn_id, protocol.ack(cmid, stored))
        return
    outbox.to_conn(conn_id, protocol.ack(cmid, stored), sid, seq)
    outbox.message((m["from"], m["to"]), sid, seq, protocol.message(stored),
                   exclude_conn=conn_id)


class Delivery:
    """One per session actor; holds nothing that changes."""

    __slots__ = ("outbox", "rt", "session")

    def __init__(self, rt: Runtime, session: ActorHandle) -> None:
        self.rt = rt
        self.outbox = rt.outbox
        self.session = session

    def done(self, post: Post, appended: Appended) -> None:
        """The append log's callback (its thread): frames for a stored message or a
        resend, the session's ``AppendOutcome`` for anything else.

        Args:
            post: what the session kept of the message.
            appended: the log's outcome.
        """
        a, status = appended.append, appended.status
        if status is AppendStatus.OK:
            if a.response_seconds is not None:  # stored: the script counted it; routing too
                # (told before the ack: a workload read after the ack already counts it)
                self.rt.dispatcher().tell(AgentFiguresAdded(
                    kefu_id=a.sender, response_seconds=a.response_seconds))
            self.outbox.to_conn(post.conn_id, protocol.ack(a.cmid, a.msg_json), a.sid, a.seq)
            self.outbox.message((a.sender, post.recipient), a.sid, a.seq,
                                protocol.message(a.msg_json), exclude_conn=post.conn_id)
            self.rt.ack(post.receipt)
        elif a.resend_only and status is not AppendStatus.FENCED:  # no seq used: no repair
            self.rt.ack(post.receipt)
            self._resend_answered(post, appended)
        else:
            self.session.tell(AppendOutcome(post=post, appended=appended))

    def _resend_answered(self, post: Post, appended: Appended) -> None:
        a = appended.append
        if appended.status is AppendStatus.DUP:
            redeliver(self.outbox, post.conn_id, a.cmid, appended.detail.encode())
            return
        # nothing stored for it, or Redis away (a lookup writes nothing: never "unknown")
        code = (post.miss if appended.status is AppendStatus.MISSING
                else RejectReason.STORAGE_UNAVAILABLE)
        self.outbox.to_conn(post.conn_id, protocol.error(code, a.cmid))
