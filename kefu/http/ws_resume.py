"""The ``resume`` frame: replay what a connection missed, exactly once, in order.

Loop thread; Redis is read through the executor. The ids named are checked against the
caller's own sessions in one round trip first (``History.sessions_of``): the ids that
are not among them are named in one ``session_not_found`` frame (``session_ids``) and cost
nothing else — no tracker, no further Redis call. For each real session (in the order named): seqs up to ``since``
count as held, every stored message above them that this connection has not been sent
goes out, live messages arriving meanwhile are held and sent after the replay, then
``resumed`` (docs/protocol.md §5).
"""

from __future__ import annotations

from kefu import protocol
from kefu.http.wire import ResumeFrame
from kefu.http.ws_sessions import Caller, own_id
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

PAGE = 500


async def resume(socket: Caller, f: ResumeFrame) -> None:
    """Serve one ``resume`` frame on ``socket`` (loop thread)."""
    user, history, bridge = socket.user, socket.state.history, socket.state.bridge
    assert user is not None
    named = [sid for sid in f.since if own_id(user.id, sid)]
    try:
        known = await bridge.run_io(history.sessions_of, user.id, named)
    except REDIS_ERRORS:
        socket.error(RejectReason.STORAGE_UNAVAILABLE, "storage unavailable, resume again")
        return
    unknown = [sid for sid in f.since if sid not in known]
    if unknown:  # one frame for all of them: 200 made-up ids must not make 200 frames
        socket.error(RejectReason.SESSION_NOT_FOUND, "session not found", session_ids=unknown)
    for sid in named:
        conn = socket.conn
        if conn is None:
            return  # closed meanwhile
        if sid not in known:
            continue
        conn.resuming[sid] = []
        sent = 0
        try:
            stored = await bridge.run_io(history.last_seq, sid)
            after = min(f.since[sid], stored)  # a claim beyond what exists suppresses nothing
            conn.tracker(sid).raise_floor(after)
            while True:
                batch = await bridge.run_io(history.messages_after, sid, after, PAGE)
                for m in batch:
                    after = m["seq"]
                    tracker = conn.tracker(sid)
                    if not tracker.has(after):
                        tracker.add(after)
                        socket.send_frame(protocol.message_of(m))
                        sent += 1
                if len(batch) < PAGE:
                    break
        except REDIS_ERRORS:
            socket.error(RejectReason.STORAGE_UNAVAILABLE, "storage unavailable, resume again")
        finally:
            buffered = conn.resuming.pop(sid, [])
        for seq, data in sorted(buffered, key=lambda t: t[0]):
            conn.deliver(sid, seq, data)
        socket.send_frame(protocol.resumed(sid, sent, conn.tracker(sid).floor))
