"""The session actor: one live ``kehu:kefu`` conversation.

It owns the message ``seq`` (1, 2, 3… with no gaps), read marks, response-time figures
and ``client_msg_id`` dedup. It numbers each message and hands it to the writer, which
stores it (checking ``seq`` and dedup atomically in Redis) before the ack leaves. Ended
sessions stop after ``ended_actor_linger_seconds`` idle and are re-activated from Redis
on demand.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import OrderedDict, deque
from typing import Any

import orjson

from kefu.actors.base import SupervisedActor
from kefu.actors.messages import (
    Accepted,
    AgentFigures,
    AppendOutcome,
    CustomerMessage,
    EndSession,
    MarkRead,
    PostMessage,
    RateSession,
    Rejected,
    SessionChanged,
    Tick,
)
from kefu.actors.runtime import frame
from kefu.domain import iso, now
from kefu.persistence.redis import REDIS_ERRORS
from kefu.persistence.writer import AppendItem, ack_frame, message_frame

RECENT_CMIDS = 4096


def _float(raw: str | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


class Session(SupervisedActor):
    """One per live session (``handle.key`` is the session id)."""

    def load(self) -> None:
        if not hasattr(self, "next_seq") and self.rt.writer is not None:
            # a new incarnation: let the writer finish what an earlier one queued first
            self.rt.writer.barrier()
        meta = self.rt.store.client.hgetall(self.rt.store.keys.session(self.handle.key))
        self.exists = bool(meta)
        self.sid = self.handle.key
        self.kehu_id = meta.get("kehu_id", "")
        self.kefu_id = meta.get("kefu_id", "")
        self.kehu_name = meta.get("kehu_name") or self.kehu_id
        self.status = meta.get("status", "missing")
        seq = int(meta.get("seq", 0))
        self.next_seq = max(getattr(self, "next_seq", 0), seq + 1)
        self.read = {"kehu": int(meta.get("read_kehu", 0)), "kefu": int(meta.get("read_kefu", 0))}
        self.awaiting_since = _float(meta.get("awaiting_since"))
        self.first_response = _float(meta.get("first_response_time"))
        self.resp_total = float(meta.get("resp_total", 0))
        self.resp_count = int(meta.get("resp_count", 0))
        self.last_activity = now()
        self.idle_requested = False
        self._set_due()
        if not hasattr(self, "recent"):
            self.recent: OrderedDict[str, bool] = OrderedDict()
            # the kehu's appends handed to the writer whose outcome may still be "closed"
            self.kehu_inflight: deque[AppendItem] = deque()

    def handle_message(self, msg: Any) -> Any:
        match msg:
            case PostMessage():
                return self._handle_post(msg)
            case AppendOutcome():
                return self._handle_outcome(msg)
            case MarkRead():
                return self._handle_read(msg)
            case RateSession():
                return self._handle_rate(msg)
            case SessionChanged():
                self.load()
                return Accepted()
            case Tick():
                return self._handle_tick(msg)
        return Rejected(status=400, reason="bad_request")

    def _error(self, conn_id: int | None, code: str, ref: str | None) -> None:
        if conn_id is not None:
            self.rt.outbox.to_conn(conn_id, frame("error", code=code, message=code, ref=ref))

    def _side(self, user_id: str) -> str | None:
        if not self.exists:
            return None
        if user_id == self.kehu_id:
            return "kehu"
        if user_id == self.kefu_id:
            return "kefu"
        return None

    # --- messages -------------------------------------------------------------------

    def _handle_post(self, msg: PostMessage) -> Any:
        side = self._side(msg.sender_id)
        if side is None:
            self._error(msg.conn_id, "session_not_found", msg.client_msg_id)
            return Rejected(status=404, reason="session_not_found")
        recipient = self.kefu_id if side == "kehu" else self.kehu_id
        cmid = msg.client_msg_id
        if self.status != "active" and side == "kehu":
            # e.g. in flight during a transfer: the dispatcher routes it to the kehu's
            # current session (or answers a resend with its stored ack), behind any
            # earlier message of the kehu that met the closed session in Redis
            self._hand_back_closed()
            self._hand_back(msg.conn_id, cmid, msg.content, msg.content_type, msg.url,
                            msg.route_seq)
            return Accepted()
        if self.status != "active" or (cmid is not None and cmid in self.recent):
            if cmid is None:
                self._error(msg.conn_id, "session_ended", None)
                return Rejected(status=409, reason="session_ended")
            # a resend: answered with the stored message (or session_ended if none)
            self.rt.writer.submit(AppendItem(  # type: ignore[union-attr]
                sid=self.sid, seq=0, msg={}, side=side, sender=msg.sender_id,
                recipient=recipient, conn_id=msg.conn_id, cmid=cmid, handle=None,
                resend_only=True,
                miss_code="session_ended" if self.status != "active" else "storage_unavailable"))
            return Accepted()
        t = now()
        seq = self.next_seq
        stored = {"id": f"msg_{uuid.uuid4().hex}", "from": msg.sender_id, "to": recipient,
                  "content": msg.content, "content_type": msg.content_type,
                  "timestamp": iso(t), "url": msg.url, "session_id": self.sid, "seq": seq,
                  "client_msg_id": cmid}
        meta: list[Any] = []
        answered: float | None = None
        if side == "kehu":
            if self.awaiting_since is None:
                self.awaiting_since = t
                meta += ["awaiting_since", t]
        else:
            self.read["kefu"] = seq
            meta += ["read_kefu", seq]
            if self.awaiting_since is not None:
                rt = answered = max(t - self.awaiting_since, 0.0)
                if self.first_response is None:
                    self.first_response = rt
                    meta += ["first_response_time", rt]
                self.resp_total += rt
                self.resp_count += 1
                self.awaiting_since = None
                meta += ["awaiting_since", "", "resp_total", self.resp_total,
                         "resp_count", self.resp_count]
                self.rt.dispatcher().tell(AgentFigures(kefu_id=self.kefu_id,
                                                       response_seconds=rt))
        item = AppendItem(sid=self.sid, seq=seq, msg=stored, side=side,
                          sender=msg.sender_id, recipient=recipient, conn_id=msg.conn_id,
                          cmid=cmid, handle=self.handle, ts=t, meta=meta,
                          response_seconds=answered, route_seq=msg.route_seq)
        if side == "kehu":
            inflight = self.kehu_inflight
            while inflight and inflight[0].status not in ("", "closed"):
                inflight.popleft()
            inflight.append(item)
        self.rt.writer.submit(item)  # type: ignore[union-attr]
        self.next_seq = seq + 1
        if cmid is not None:
            self.recent[cmid] = True
            if len(self.recent) > RECENT_CMIDS:
                self.recent.popitem(last=False)
        self.last_activity = t
        self._set_due()
        return Accepted()

    def _handle_outcome(self, msg: AppendOutcome) -> Any:
        item: AppendItem = msg.item
        if msg.status == "conflict":
            self.next_seq = max(self.next_seq, int(msg.detail) + 1)
            item.seq = self.next_seq
            item.msg["seq"] = item.seq
            item.status = ""
            self.next_seq += 1
            self.rt.writer.submit(item)  # type: ignore[union-attr]
            return None
        self.next_seq = min(self.next_seq, item.seq)
        if msg.status == "dup":
            self._redeliver(item, msg.detail.encode())
            return None
        if item.cmid is not None:
            self.recent.pop(item.cmid, None)
        if msg.status == "closed":
            with contextlib.suppress(REDIS_ERRORS):
                self.load()
            if item.side == "kehu":  # not stored: on to the kehu's current session
                self._hand_back_closed()
                if not item.handed_back:
                    item.handed_back = True
                    self._hand_back(item.conn_id, item.cmid, item.msg["content"],
                                    item.msg["content_type"], item.msg["url"], item.route_seq)
            else:
                self._error(item.conn_id, "session_ended", item.cmid)
        elif msg.status == "unknown":  # sent, unanswered: perhaps stored
            self._error(item.conn_id, "outcome_unknown", item.cmid)
        else:
            self._error(item.conn_id, "storage_unavailable", item.cmid)
        return None

    def _redeliver(self, item: AppendItem, stored: bytes) -> None:
        """A resend of a stored message: its ack again, and the message to both sides,
        in case the first attempt's reply (and so its delivery) was lost
        (``outcome_unknown``); connections that hold the seq already drop it."""
        m = orjson.loads(stored)
        sid, seq = m.get("session_id"), m.get("seq")
        if sid is None or seq is None:  # still a waiting message: no seq to deliver
            self.rt.outbox.to_conn(item.conn_id, ack_frame(item.cmid, stored))
            return
        self.rt.outbox.to_conn(item.conn_id, ack_frame(item.cmid, stored), sid, seq)
        self.rt.outbox.message((m["from"], m["to"]), sid, seq, message_frame(stored),
                               exclude_conn=item.conn_id)

    def _hand_back(self, conn_id: int | None, cmid: str | None, content: str,
                   content_type: str, url: str | None, route_seq: int) -> None:
        self.rt.dispatcher().tell(CustomerMessage(
            kehu_id=self.kehu_id, kehu_name=self.kehu_name, conn_id=conn_id,
            client_msg_id=cmid, content=content, content_type=content_type, url=url,
            route_seq=route_seq))

    def _hand_back_closed(self) -> None:
        """Pass on, in the order they were sent, the kehu's messages that met this session
        closed in Redis (a transfer or an end raced them): the writer's barrier makes every
        earlier append decided, so none is passed on ahead of an earlier one."""
        if not self.kehu_inflight:
            return
        self.rt.writer.barrier()  # type: ignore[union-attr]
        while self.kehu_inflight:
            if self.kehu_inflight[0].status == "":
                break  # undecided (the barrier timed out): its outcome will come here
            item = self.kehu_inflight.popleft()
            if item.status == "closed" and not item.handed_back:
                item.handed_back = True
                if item.cmid is not None:
                    self.recent.pop(item.cmid, None)
                m = item.msg
                self._hand_back(item.conn_id, item.cmid, m["content"], m["content_type"],
                                m["url"], item.route_seq)

    # --- read marks and ratings -----------------------------------------------------

    def _handle_read(self, msg: MarkRead) -> Any:
        side = self._side(msg.user_id)
        if side is None:
            self._error(msg.conn_id, "session_not_found", None)
            return Rejected(status=404, reason="session_not_found")
        last = self.next_seq - 1
        seq = last if msg.seq is None else max(0, min(msg.seq, last))
        if seq <= self.read[side]:
            return Accepted(data={"seq": self.read[side]})
        try:
            self.rt.store.client.hset(self.rt.store.keys.session(self.sid), f"read_{side}", seq)
        except REDIS_ERRORS:
            self._error(msg.conn_id, "storage_unavailable", None)
            return Rejected(status=503, reason="storage_unavailable")
        self.read[side] = seq
        self.rt.outbox.to_users([self.kehu_id, self.kefu_id], frame(
            "read", session_id=self.sid, user_id=msg.user_id, seq=seq),
            exclude_conn=msg.conn_id)
        return Accepted(data={"seq": seq})

    def _handle_rate(self, msg: RateSession) -> Any:
        if self._side(msg.user_id) != "kehu":
            self._error(msg.conn_id, "session_not_found", None)
            return Rejected(status=404, reason="session_not_found")
        if self.status == "active":
            self._error(msg.conn_id, "session_active", None)
            return Rejected(status=409, reason="session_active")
        key = self.rt.store.keys.session(self.sid)
        try:
            if not self.rt.store.client.hsetnx(key, "satisfaction", msg.score):
                self._error(msg.conn_id, "already_rated", None)
                return Rejected(status=409, reason="already_rated")
            self.rt.store.client.hset(key, mapping={"rating_comment": msg.comment or "",
                                                    "rated_at": now()})
        except REDIS_ERRORS:
            self._error(msg.conn_id, "storage_unavailable", None)
            return Rejected(status=503, reason="storage_unavailable")
        self.rt.dispatcher().tell(AgentFigures(kefu_id=self.kefu_id, rating=msg.score))
        self.rt.outbox.to_users([self.kehu_id], frame(
            "rated", session_id=self.sid, score=msg.score, comment=msg.comment))
        return Accepted(data={"session_id": self.sid, "score": msg.score})

    # --- time -----------------------------------------------------------------------

    def _set_due(self) -> None:
        """Tell the ticker when this session next needs a Tick: its idle end while it
        is active, else the end of its linger (see ``ActorSystem.tick``)."""
        s = self.rt.settings
        wait = s.session_idle_seconds if self.status == "active" else s.ended_actor_linger_seconds
        self.handle.due = self.last_activity + wait

    def _handle_tick(self, msg: Tick) -> Any:
        idle = msg.now - self.last_activity
        if self.status == "active":
            if idle >= self.rt.settings.session_idle_seconds and not self.idle_requested:
                self.idle_requested = True
                # the dispatcher's EndSession reloads us (and sets the next due)
                self.handle.due = msg.now + self.rt.settings.session_idle_seconds
                self.rt.dispatcher().tell(EndSession(session_id=self.sid, reason="idle"))
        elif idle >= self.rt.settings.ended_actor_linger_seconds and self.handle.retire(self):
            self.rt.registry.drop(self.handle)
            self.actor_ref.stop(block=False)
        return None
