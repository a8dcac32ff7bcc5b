"""The agent actor: one per kefu. Owns its focus (the customer it switched to) and its
list of current customers, and routes the kefu's messages that name no session."""

from __future__ import annotations

from typing import Any

from kefu.actors.base import SupervisedActor
from kefu.actors.messages import (
    Accepted,
    AgentMessage,
    CustomerAssigned,
    CustomerReleased,
    FocusCustomer,
    MarkRead,
    PostMessage,
    Rejected,
)
from kefu.actors.runtime import frame
from kefu.domain import iso, now, split_session_id
from kefu.persistence.redis import REDIS_ERRORS


class Agent(SupervisedActor):
    """``handle.key`` is the kefu id."""

    def load(self) -> None:
        r, k = self.rt.store.client, self.rt.store.keys
        self.kefu_id = self.handle.key
        snap = r.hgetall(k.agent(self.kefu_id))
        self.customers: dict[str, str] = {}
        for sid in r.smembers(k.active_sessions(self.kefu_id)):
            pair = split_session_id(sid)
            if pair and pair[1] == self.kefu_id:
                self.customers[pair[0]] = sid
        focus = snap.get("focus") or None
        self.focus = focus if focus in self.customers else None

    def handle_message(self, msg: Any) -> Any:
        match msg:
            case CustomerAssigned():
                self.customers[msg.kehu_id] = msg.session_id
                if self.focus is None:
                    self._set_focus(msg.kehu_id, announce=False)
                return Accepted()
            case CustomerReleased():
                if self.customers.get(msg.kehu_id) == msg.session_id:
                    del self.customers[msg.kehu_id]
                if self.focus == msg.kehu_id:
                    self._set_focus(next(iter(sorted(self.customers)), None), announce=False)
                return Accepted()
            case FocusCustomer():
                if msg.customer_id not in self.customers:
                    return Rejected(status=404, reason="customer_not_found")
                self._set_focus(msg.customer_id, announce=True)
                return Accepted(data={"customer_id": msg.customer_id})
            case AgentMessage():
                return self._handle_message(msg)
        return Rejected(status=400, reason="bad_request")

    def _set_focus(self, customer_id: str | None, announce: bool) -> None:
        self.focus = customer_id
        try:
            self.rt.store.client.hset(self.rt.store.keys.agent(self.kefu_id), "focus",
                                      customer_id or "")
        except REDIS_ERRORS:
            pass  # focus is a convenience; it is rebuilt from the active sessions
        if announce and customer_id is not None:
            sid = self.customers[customer_id]
            self.rt.session(sid).tell(MarkRead(user_id=self.kefu_id))
            self.rt.outbox.to_users([self.kefu_id], frame(
                "switched", kefu_id=self.kefu_id, customer_id=customer_id, session_id=sid,
                switch_time=iso(now())))

    def _handle_message(self, msg: AgentMessage) -> Any:
        target = self.focus if self.focus in self.customers else None
        if target is None and len(self.customers) == 1:
            target = next(iter(self.customers))
        if target is None:
            if msg.conn_id is not None:
                self.rt.outbox.to_conn(msg.conn_id, frame(
                    "error", code="no_session", message="no_session", ref=msg.client_msg_id))
            return Rejected(status=409, reason="no_session")
        self.rt.session(self.customers[target]).tell(PostMessage(
            sender_id=self.kefu_id, conn_id=msg.conn_id, client_msg_id=msg.client_msg_id,
            content=msg.content, content_type=msg.content_type, url=msg.url))
        return Accepted()
