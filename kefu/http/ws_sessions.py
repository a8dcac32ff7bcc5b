"""Which session a frame may touch: the checks behind ``read``, ``rate``, ``typing`` and
a kefu's ``message`` with a ``session_id`` (loop thread).

A session id a client names is trusted only if the caller is one of its two halves and
the session exists: a live session's handle is found in memory, otherwise one ``EXISTS``
in the executor decides. An id that fails costs one ``session_not_found`` frame and
nothing else — no handle, no actor, no Redis key, no memory that outlives the frame
(docs/security.md). ``typing`` is relayed only between the two participants of an active
session, at most once per ``KEFU_TYPING_INTERVAL_SECONDS`` per sender and session.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from kefu import protocol
from kefu.actors.handles import AnyHandle
from kefu.domain import User, split_session_id
from kefu.http.connections import Conn
from kefu.http.state import AppState
from kefu.http.wire import TypingFrame
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

KEHU_HALF, KEFU_HALF = 0, 1


class Caller(Protocol):
    """What these checks need of a connection (``websocket.ChatSocket``)."""

    user: User | None
    conn: Conn | None
    state: AppState

    def send_frame(self, data: bytes) -> None: ...

    def error(self, code: RejectReason, message: str, ref: str | None = None,
              details: dict[str, str] | None = None, **extra: Any) -> None: ...


def own_id(user_id: str, sid: str, side: int | None = None) -> bool:
    """Is ``user_id`` a half of ``sid`` (the kehu half for ``side`` 0, the kefu's for 1,
    either for None)?"""
    pair = split_session_id(sid)
    if pair is None:
        return False
    return user_id in pair if side is None else pair[side] == user_id


def owns(socket: Caller, sid: str, side: int | None, ref: str | None) -> bool:
    """:func:`own_id` for the socket's user; else a ``session_not_found`` frame (the same
    as for a missing session: existence is not leaked)."""
    assert socket.user is not None
    if own_id(socket.user.id, sid, side):
        return True
    socket.error(RejectReason.SESSION_NOT_FOUND, "session not found", ref)
    return False


async def session_of(socket: Caller, sid: str, side: int | None, ref: str | None
                     ) -> AnyHandle | None:
    """The handle of the caller's existing session ``sid``, or None after an error frame.

    Args:
        socket: the caller's connection.
        sid: the session id the frame names.
        side: which half must be the caller (``KEHU_HALF``, ``KEFU_HALF``, None: either).
        ref: the ``ref`` of the error frame (a message's ``client_msg_id``).
    """
    if not owns(socket, sid, side, ref):
        return None
    rt = socket.state.rt
    handle = rt.find_session(sid)
    if handle is not None:
        return handle
    try:
        exists = await socket.state.bridge.run_io(socket.state.history.exists, sid)
    except REDIS_ERRORS:
        socket.error(RejectReason.STORAGE_UNAVAILABLE, "storage unavailable, retry", ref)
        return None
    if not exists:
        socket.error(RejectReason.SESSION_NOT_FOUND, "session not found", ref)
        return None
    return rt.session(sid)


async def relay_typing(socket: Caller, f: TypingFrame) -> None:
    """Relay ``typing`` to the other participant (and the sender's other tabs) of an
    active session; dropped when it is not active, or sent again too soon."""
    user, conn, state = socket.user, socket.conn, socket.state
    assert user is not None and conn is not None
    if not owns(socket, f.session_id, None, None):
        return
    sid = f.session_id
    if not state.hub.typing_allowed(user.id, sid, time.monotonic(),
                                    state.settings.typing_interval_seconds):
        return
    try:
        active = await state.bridge.run_io(state.history.is_active_for, sid, user.id)
    except REDIS_ERRORS:
        return  # typing is ephemeral: nothing to retry
    pair = split_session_id(sid)
    if active and pair is not None and socket.conn is not None:
        state.rt.outbox.to_users(pair, protocol.typing(sid, user.id), exclude_conn=conn.id)
