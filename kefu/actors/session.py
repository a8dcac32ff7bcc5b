"""The session actor: one live ``kehu:kefu`` conversation.

It owns the message ``seq`` (1, 2, 3… with no gaps), read marks, response-time figures
and ``client_msg_id`` dedup. It numbers each message and submits it to the append log,
which stores it (checking ``seq`` and dedup atomically in Redis) before the ack leaves
(``delivery.py``). Ended sessions stop after ``ended_actor_linger_seconds`` idle and are
re-activated from Redis on demand.

A kehu's messages keep their order even when a transfer or an end races them: one that
meets the session closed in Redis comes back as an ``AppendOutcome`` and is handed back
to the dispatcher; one that arrives once the session knows it is closed is *held* until
the append log reports every earlier append decided (``AppendsSettled``), so it is handed
back after them. Every piece of state here is this actor's own.
"""

from __future__ import annotations

import functools
import uuid
from collections import OrderedDict, deque
from typing import Any

import orjson

from kefu import protocol
from kefu.actors.base import SupervisedActor
from kefu.actors.delivery import Delivery, redeliver
from kefu.actors.messages import (
    Accepted,
    ActorMessage,
    AgentFiguresAdded,
    AppendOutcome,
    AppendsSettled,
    CustomerMessage,
    EndSession,
    MarkRead,
    PostMessage,
    RateSession,
    Rejected,
    SessionChanged,
    Tick,
)
from kefu.actors.post import Post
from kefu.actors.session_state import SessionState
from kefu.domain import iso, now
from kefu.persistence.appends import Append, AppendStatus
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason

RECENT_CMIDS = 4096  # client_msg_ids remembered in memory (Redis keeps them all)


class Session(SupervisedActor):
    """One per live session (``handle.key`` is the session id)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.state = SessionState(sid=self.handle.key)
        self.next_seq = 1
        self.recent: OrderedDict[str, bool] = OrderedDict()
        self.held: deque[PostMessage] = deque()  # a kehu's, waiting for AppendsSettled
        self.settling = False
        self.rewinding: list[tuple[Post, Append]] = []  # conflicts while Redis was behind
        self.last_activity = now()
        self.idle_requested = False
        self.delivery = Delivery(self.rt, self.handle)
        self.fence = self.rt.fence("session", self.handle.key)

    def load(self) -> None:
        # a new incarnation: what an earlier one submitted is decided before we read seq
        # (on another node's, the fence refuses whatever lands after our lease began)
        self.rt.appends.barrier()
        self.reload()

    def reload(self) -> None:
        meta = self.rt.store.client.hgetall(self.rt.store.keys.session(self.handle.key))
        self.state = SessionState.from_meta(self.handle.key, meta)
        self.next_seq = max(self.next_seq, self.state.seq + 1)
        self.last_activity = now()
        self.idle_requested = False
        self._set_due()

    def handle_message(self, msg: ActorMessage) -> Any:
        match msg:
            case PostMessage():
                return self._handle_post(msg)
            case AppendOutcome():
                return self._handle_outcome(msg)
            case AppendsSettled():
                if self.rewinding:
                    self._renumber()
                self.settling = False
                while self.held:
                    self._hand_back(self.held.popleft())
                return None
            case MarkRead():
                return self._handle_read(msg)
            case RateSession():
                return self._handle_rate(msg)
            case SessionChanged():
                if msg.generation == 0 or self.state.generation < msg.generation:
                    self.reload()  # (a just-started actor has read that generation)
                return Accepted()
            case Tick():
                return self._handle_tick(msg)
        return Rejected(reason=RejectReason.BAD_REQUEST)

    def _doubt(self) -> SessionState:
        """Read the session again before believing it closed: the dispatcher's
        ``SessionChanged`` may have been lost with its node (cluster mode), and a kehu's
        message would otherwise go back and forth between it and us."""
        try:
            self.reload()
        except REDIS_ERRORS:
            pass  # held and handed back: the dispatcher tries again
        return self.state

    def _error(self, conn_id: int | None, code: RejectReason, ref: str | None) -> Rejected:
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, protocol.error(code, ref))
        return Rejected(reason=code)

    # --- messages -------------------------------------------------------------------

    def _handle_post(self, msg: PostMessage) -> Any:
        st = self.state
        side = st.side_of(msg.sender_id)
        if side is None:
            return self._error(msg.conn_id, RejectReason.SESSION_NOT_FOUND, msg.client_msg_id)
        if side == "kehu" and not st.active and not self.held and not self.settling:
            st = self._doubt()  # the dispatcher sent it here: perhaps we missed the opening
        if side == "kehu" and (not st.active or self.held or self.settling):
            self._hold(msg)  # handed back once every earlier append is decided
            return Accepted()
        cmid = msg.client_msg_id
        recipient = st.kefu_id if side == "kehu" else st.kehu_id
        post = Post(conn_id=msg.conn_id, recipient=recipient, content=msg.content,
                    content_type=msg.content_type, url=msg.url, route_seq=msg.route_seq,
                    receipt=self.take_receipt())
        if not st.active or (cmid is not None and cmid in self.recent):
            if cmid is None:
                self.rt.ack(post.receipt)
                return self._error(msg.conn_id, RejectReason.SESSION_ENDED, None)
            # a resend: answered with the stored message (or session_ended if none)
            miss = RejectReason.STORAGE_UNAVAILABLE if st.active else RejectReason.SESSION_ENDED
            self._submit(Append(sid=st.sid, seq=0, msg_id="", msg_json=b"", side=side,
                                sender=msg.sender_id, cmid=cmid, ts=0.0, resend_only=True,
                                fence=self.fence),
                         Post(conn_id=msg.conn_id, recipient=recipient, content="",
                              content_type="", url=None, miss=miss,
                              receipt=post.receipt))
            return Accepted()
        t = now()
        meta: list[str | int | float] = []
        response_s = None
        if side == "kehu":
            if st.awaiting_since is None:
                st.awaiting_since = t
                meta += ["awaiting_since", t]
        else:
            st.read["kefu"] = self.next_seq
            answered, response_s = st.answered(t)
            meta += ["read_kefu", self.next_seq, *answered]
        self._submit(self._append(post, msg.sender_id, side, cmid, self.next_seq,
                                  f"msg_{uuid.uuid4().hex}", t, tuple(meta), response_s), post)
        self.next_seq += 1
        if cmid is not None:
            self.recent[cmid] = True
            if len(self.recent) > RECENT_CMIDS:
                self.recent.popitem(last=False)
        self.last_activity = t
        self._set_due()
        return Accepted()

    def _append(self, post: Post, sender: str, side: str, cmid: str | None, seq: int,
                msg_id: str, t: float, meta: tuple[str | int | float, ...] = (),
                response_s: float | None = None) -> Append:
        stored = {"id": msg_id, "from": sender, "to": post.recipient, "content": post.content,
                  "content_type": post.content_type, "timestamp": iso(t), "url": post.url,
                  "session_id": self.state.sid, "seq": seq, "client_msg_id": cmid}
        return Append(sid=self.state.sid, seq=seq, msg_id=msg_id, msg_json=orjson.dumps(stored),
                      side=side, sender=sender, cmid=cmid, ts=t, preview=post.content[:200],
                      response_seconds=response_s, meta=meta, fence=self.fence)

    def _submit(self, append: Append, post: Post) -> None:
        self.rt.appends.submit(append, functools.partial(self.delivery.done, post))

    def _hold(self, msg: PostMessage) -> None:
        self.held.append(msg)
        if not self.settling:
            self.settling = True
            tell = self.handle.tell
            self.rt.appends.settle(lambda: tell(AppendsSettled()))

    def _handle_outcome(self, msg: AppendOutcome) -> None:
        post, a = msg.post, msg.appended.append
        status, detail = msg.appended.status, msg.appended.detail
        if status is AppendStatus.CONFLICT and int(detail) + 1 < a.seq:
            self._rewind(post, a)  # Redis is behind us: a failover lost writes (or a gap)
            return
        if status is AppendStatus.CONFLICT:  # another incarnation stored up to ``detail``
            self.next_seq = max(self.next_seq, int(detail) + 1)
            self._submit(self._append(post, a.sender, a.side, a.cmid, self.next_seq, a.msg_id,
                                      a.ts, a.meta, a.response_seconds), post)
            self.next_seq += 1
            return
        if status is AppendStatus.FENCED:  # our shard is another node's: it takes over
            self.rt.fenced("session", self.state.sid)
            self._error(post.conn_id, RejectReason.STORAGE_UNAVAILABLE, a.cmid)
            return
        self.next_seq = min(self.next_seq, a.seq)  # the seq was not used
        self.rt.ack(post.receipt)  # decided: its inbox entry is done
        if status is AppendStatus.DUP:
            redeliver(self.rt.outbox, post.conn_id, a.cmid, detail.encode())
            return
        if a.cmid is not None:
            self.recent.pop(a.cmid, None)
        if status is AppendStatus.CLOSED:
            if self.state.active:
                try:
                    self.reload()  # Redis knows better: a transfer or an end raced it
                except REDIS_ERRORS:
                    pass  # the next message tries again
            if a.side == "kehu":  # not stored: on to the kehu's current session, in order
                self._hand_back(PostMessage(
                    sender_id=a.sender, conn_id=post.conn_id, client_msg_id=a.cmid,
                    content=post.content, content_type=post.content_type, url=post.url,
                    route_seq=post.route_seq))
            else:
                self._error(post.conn_id, RejectReason.SESSION_ENDED, a.cmid)
        elif status is AppendStatus.UNKNOWN:  # sent, unanswered: perhaps stored
            self._error(post.conn_id, RejectReason.OUTCOME_UNKNOWN, a.cmid)
        else:
            self._error(post.conn_id, RejectReason.STORAGE_UNAVAILABLE, a.cmid)

    def _rewind(self, post: Post, a: Append) -> None:
        """Redis holds fewer messages than this actor numbered (a Redis failover lost
        acked writes — KEFU_ACK_REPLICAS=0 — or an earlier append failed): keep the
        message, and once every append in flight is decided, number again from Redis."""
        self.rewinding.append((post, a))
        if len(self.rewinding) == 1:
            tell = self.handle.tell
            self.rt.appends.settle(lambda: tell(AppendsSettled()))

    def _renumber(self) -> None:
        """Every append in flight is decided: resubmit the rewound ones, in order, after
        the seq Redis has now."""
        pending, self.rewinding = self.rewinding, []
        try:
            meta = self.rt.store.client.hgetall(self.rt.store.keys.session(self.handle.key))
        except REDIS_ERRORS:
            for post, a in pending:
                self.rt.ack(post.receipt)
                self._error(post.conn_id, RejectReason.STORAGE_UNAVAILABLE, a.cmid)
            return
        self.state = SessionState.from_meta(self.handle.key, meta)
        self.next_seq = self.state.seq + 1
        for post, a in pending:
            self._submit(self._append(post, a.sender, a.side, a.cmid, self.next_seq, a.msg_id,
                                      a.ts, a.meta, a.response_seconds), post)
            self.next_seq += 1

    def _hand_back(self, msg: PostMessage) -> None:
        self.rt.dispatcher().tell(CustomerMessage(
            kehu_id=self.state.kehu_id, kehu_name=self.state.kehu_name, conn_id=msg.conn_id,
            client_msg_id=msg.client_msg_id, content=msg.content,
            content_type=msg.content_type, url=msg.url, route_seq=msg.route_seq))

    # --- read marks and ratings -----------------------------------------------------

    def _handle_read(self, msg: MarkRead) -> Any:
        st = self.state
        side = st.side_of(msg.user_id)
        if side is None:
            return self._error(msg.conn_id, RejectReason.SESSION_NOT_FOUND, None)
        last = self.next_seq - 1
        seq = last if msg.seq is None else max(0, min(msg.seq, last))
        if seq <= st.read[side]:
            return Accepted(data={"seq": st.read[side]})
        try:
            self.rt.store.client.hset(self.rt.store.keys.session(st.sid), f"read_{side}", seq)
        except REDIS_ERRORS:
            return self._error(msg.conn_id, RejectReason.STORAGE_UNAVAILABLE, None)
        st.read[side] = seq
        self.rt.outbox.to_users([st.kehu_id, st.kefu_id], protocol.read(st.sid, msg.user_id, seq),
                                exclude_conn=msg.conn_id)
        return Accepted(data={"seq": seq})

    def _handle_rate(self, msg: RateSession) -> Any:
        st = self.state
        if st.side_of(msg.user_id) != "kehu":
            return self._error(msg.conn_id, RejectReason.SESSION_NOT_FOUND, None)
        if st.active:
            return self._error(msg.conn_id, RejectReason.SESSION_ACTIVE, None)
        k = self.rt.store.keys
        try:  # one script: stored once, and the kefu's rating figures with it
            result = self.rt.store.rate(keys=[k.session(st.sid), k.agent_figures,
                                              self.fence.key],
                                        args=[msg.score, msg.comment or "", now(),
                                              self.fence.token])
        except REDIS_ERRORS:
            return self._error(msg.conn_id, RejectReason.STORAGE_UNAVAILABLE, None)
        if result[0] == "fenced":
            self.rt.fenced("session", st.sid)
            return self._error(msg.conn_id, RejectReason.STORAGE_UNAVAILABLE, None)
        if result[0] == "refused":
            return self._error(msg.conn_id, RejectReason(result[1]), None)
        self.rt.dispatcher().tell(AgentFiguresAdded(kefu_id=st.kefu_id, rating=msg.score))
        self.rt.outbox.to_users([st.kehu_id], protocol.rated(st.sid, msg.score, msg.comment))
        return Accepted(data={"session_id": st.sid, "score": msg.score})

    # --- time -----------------------------------------------------------------------

    def _set_due(self) -> None:
        """Tell the ticker when this session next needs a Tick: its idle end while it
        is active, else the end of its linger (see ``ActorSystem.tick``)."""
        s = self.rt.settings
        wait = s.session_idle_seconds if self.state.active else s.ended_actor_linger_seconds
        self.handle.due = self.last_activity + wait

    def _handle_tick(self, msg: Tick) -> None:
        idle = msg.now - self.last_activity
        s = self.rt.settings
        if self.state.active:
            if idle >= s.session_idle_seconds and not self.idle_requested:
                self.idle_requested = True
                # the dispatcher's EndSession reloads us (and sets the next due)
                self.handle.due = msg.now + s.session_idle_seconds
                self.rt.dispatcher().tell(EndSession(session_id=self.state.sid, reason="idle"))
        elif (idle >= s.ended_actor_linger_seconds and not self.held and not self.settling
              and self.handle.retire(self)):
            self.rt.registry.drop(self.handle)
            self.actor_ref.stop(block=False)
