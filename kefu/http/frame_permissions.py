"""Which permission each acting WebSocket frame needs (issue 16; the catalogue is
``kefu/permissions.py``, the REST side ``http/endpoint_permissions.py``).

A socket keeps the user it was opened with, so an acting frame re-reads the user's
record (one HGETALL, off the loop): a permission taken away applies to the very next
frame, on every node, with no reconnect. Chat, read marks, typing, resume, rating and
ping need none (an agent's everyday work, or a customer's).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from kefu import protocol
from kefu.domain import User
from kefu.http.state import AppState
from kefu.permissions import BY_NAME
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

FRAMES: dict[str, str] = {"switch": "take", "accept": "take", "decline": "take",
                          "note": "notes"}
_REFS = ("customer_id", "offer_id", "client_msg_id")


class _Socket(Protocol):
    state: AppState
    user: User | None

    def send_frame(self, data: bytes) -> None: ...


async def frame_allowed(socket: _Socket, frame: BaseModel) -> bool:
    """May this frame go on? If not, the socket gets an ``error`` frame (``forbidden``
    naming the permission). Called on the IOLoop thread. A role that can never hold
    the permission is left to the frame's own role check (its usual error)."""
    kind = str(getattr(frame, "type", ""))
    needed, user = FRAMES.get(kind), socket.user
    if needed is None or user is None or user.user_type not in BY_NAME[needed].grantable:
        return True
    ref = next((str(v) for n in _REFS if (v := getattr(frame, n, None)) is not None), None)
    try:
        fresh = await socket.state.bridge.run_io(socket.state.users.get, user.id)
    except REDIS_ERRORS:
        socket.send_frame(protocol.error(RejectReason.STORAGE_UNAVAILABLE, ref,
                                         "storage unavailable, retry"))
        return False
    if fresh is not None and needed in fresh.permissions:
        return True
    socket.send_frame(protocol.error(RejectReason.FORBIDDEN, ref,
                                     f"missing permission: {needed}", permission=needed))
    return False
