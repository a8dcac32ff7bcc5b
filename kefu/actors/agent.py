"""The agent actor: one per kefu. Owns its focus (the customer it switched to) and its
list of current customers, and routes the kefu's messages that name no session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kefu import protocol
from kefu.actors.base import SupervisedActor
from kefu.actors.messages import (
    Accepted,
    ActorMessage,
    AgentMessage,
    CustomerAssigned,
    CustomerReleased,
    FocusCustomer,
    MarkRead,
    PostMessage,
    Rejected,
)
from kefu.domain import iso, now, split_session_id
from kefu.persistence.redis import REDIS_ERRORS
from kefu.protocol import RejectReason


@dataclass
class AgentState:
    """Owned by the agent actor's thread."""

    kefu_id: str
    customers: dict[str, str] = field(default_factory=dict)  # kehu id → session id
    focus: str | None = None

    @classmethod
    def from_snapshot(cls, kefu_id: str, snapshot: dict[str, str],
                      active: set[str]) -> AgentState:
        """The agent hash and the kefu's active session ids → state (pure). Sessions of
        another kefu are ignored; a focus that is not a current customer is dropped."""
        customers = {}
        for sid in active:
            pair = split_session_id(sid)
            if pair and pair[1] == kefu_id:
                customers[pair[0]] = sid
        focus = snapshot.get("focus") or None
        return cls(kefu_id, customers, focus if focus in customers else None)


class Agent(SupervisedActor):
    """``handle.key`` is the kefu id."""

    def load(self) -> None:
        r, k, kefu_id = self.rt.store.client, self.rt.store.keys, self.handle.key
        pipe = r.pipeline(transaction=False)
        pipe.hgetall(k.agent(kefu_id))
        pipe.smembers(k.active_sessions(kefu_id))
        snapshot, active = pipe.execute()
        self.state = AgentState.from_snapshot(kefu_id, snapshot, active)

    def handle_message(self, msg: ActorMessage) -> Any:
        st = self.state
        match msg:
            case CustomerAssigned():
                st.customers[msg.kehu_id] = msg.session_id
                if st.focus is None:
                    self._set_focus(msg.kehu_id, announce=False)
                return Accepted()
            case CustomerReleased():
                if st.customers.get(msg.kehu_id) == msg.session_id:
                    del st.customers[msg.kehu_id]
                if st.focus == msg.kehu_id:
                    self._set_focus(next(iter(sorted(st.customers)), None), announce=False)
                return Accepted()
            case FocusCustomer():
                if msg.customer_id not in st.customers:
                    st = self._doubt()
                if msg.customer_id not in st.customers:
                    return Rejected(reason=RejectReason.CUSTOMER_NOT_FOUND)
                self._set_focus(msg.customer_id, announce=True)
                return Accepted(data={"customer_id": msg.customer_id})
            case AgentMessage():
                return self._handle_message(msg)
        return Rejected(reason=RejectReason.BAD_REQUEST)

    def _set_focus(self, customer_id: str | None, announce: bool) -> None:
        st = self.state
        st.focus = customer_id
        try:
            self.rt.store.client.hset(self.rt.store.keys.agent(st.kefu_id), "focus",
                                      customer_id or "")
        except REDIS_ERRORS:
            pass  # focus is a convenience; it is rebuilt from the active sessions
        if announce and customer_id is not None:
            sid = st.customers[customer_id]
            self.rt.session(sid).tell(MarkRead(user_id=st.kefu_id))
            self.rt.outbox.to_users([st.kefu_id], protocol.switched(
                st.kefu_id, customer_id, sid, iso(now())))

    def _doubt(self) -> AgentState:
        """Read the agent's customers again before answering "not yours": a
        ``CustomerAssigned`` may have been lost with the dispatcher's node (cluster mode)."""
        try:
            self.load()
        except REDIS_ERRORS:
            pass
        return self.state

    def _handle_message(self, msg: AgentMessage) -> Any:
        st = self.state
        if not st.customers:
            st = self._doubt()
        target = st.focus if st.focus in st.customers else None
        if target is None and len(st.customers) == 1:
            target = next(iter(st.customers))
        if target is None:
            if msg.conn_id is not None:
                self.rt.outbox.to_conn(msg.conn_id, protocol.error(RejectReason.NO_SESSION,
                                                                   msg.client_msg_id))
            return Rejected(reason=RejectReason.NO_SESSION)
        self.rt.session(st.customers[target]).tell(PostMessage(
            sender_id=st.kefu_id, conn_id=msg.conn_id, client_msg_id=msg.client_msg_id,
            content=msg.content, content_type=msg.content_type, url=msg.url))
        return Accepted()
