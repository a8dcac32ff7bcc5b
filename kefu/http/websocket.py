"""The ``/ws`` endpoint: one handler per connection, on the IOLoop thread.

It authenticates at the handshake (bad token → close 4401), registers the connection in
the :class:`~kefu.http.connections.Hub`, validates each frame (``wire.py``) and hands it
to the right actor with ``tell`` — it never waits on an actor. ``typing`` is relayed here
and ``resume`` is served from Redis through the executor.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from tornado.websocket import WebSocketHandler

from kefu.actors.messages import (
    AgentMessage,
    AgentPresence,
    CustomerMessage,
    CustomerPresence,
    MarkRead,
    PostMessage,
    RateSession,
    Rejected,
    RequestService,
    SwitchCustomer,
)
from kefu.actors.runtime import frame
from kefu.domain import User, UserType, iso, now, split_session_id
from kefu.http.connections import Conn
from kefu.http.frames import write_text
from kefu.http.state import AppState
from kefu.http.wire import (
    FrameError,
    MessageFrame,
    PingFrame,
    RateFrame,
    ReadFrame,
    RequestServiceFrame,
    ResumeFrame,
    SwitchFrame,
    TypingFrame,
    parse_frame,
)
from kefu.http.ws_guard import message_allowed, origin_allowed
from kefu.persistence.redis import REDIS_ERRORS

log = logging.getLogger(__name__)
CLOSE_UNAUTHORIZED = 4401
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013


class ChatSocket(WebSocketHandler):
    state: AppState
    openapi_skip = True  # the WebSocket protocol is documented in docs/protocol.md

    def initialize(self, state: AppState) -> None:
        self.state = state
        self.user: User | None = None
        self.conn: Conn | None = None
        self.auth_unavailable = False
        self.before_hello: list[bytes] | None = []  # frames held until hello is out

    def check_origin(self, origin: str) -> bool:
        """Browsers only from this host or KEFU_ALLOWED_ORIGINS (else 403; ws_guard.py)."""
        return origin_allowed(origin, self.request.host, self.state.settings.allowed_origins)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        header = self.request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        token = token or self.get_query_argument("token", None)
        if token:
            try:
                self.user = await self.state.bridge.run_io(self.state.users.resolve_token, token)
            except REDIS_ERRORS:
                self.auth_unavailable = True
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        user = self.user
        if self.auth_unavailable:
            self.close(CLOSE_TRY_AGAIN, "storage unavailable, retry")
            return
        if user is None:
            self.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return
        if self.state.closing:
            self.close(CLOSE_GOING_AWAY, "server closing")
            return
        # frames are small and often written back to back (ack, then an event): without
        # TCP_NODELAY the second waits for the client's delayed ACK (~40 ms)
        self.set_nodelay(True)
        hub = self.state.hub
        self.conn = hub.add(user.id, user.user_type.value, self)
        count = hub.count(user.id)
        if user.user_type is UserType.KEFU:
            self.state.rt.dispatcher().tell(AgentPresence(kefu_id=user.id, connections=count,
                                                          opened=True))
        elif user.user_type is UserType.KEHU and count == 1:
            self.state.rt.dispatcher().tell(CustomerPresence(kehu_id=user.id, online=True))
        try:
            sessions = await self.state.bridge.run_io(self.state.history.active_sessions, user.id)
        except REDIS_ERRORS:
            sessions = []
        s = self.state.settings
        held, self.before_hello = self.before_hello or [], None
        self.send_frame(frame("hello", user=user.model_dump(mode="json"), sessions=sessions,
                              server_time=iso(now()),
                              limits={"max_frame_bytes": s.max_frame_bytes,
                                      "max_text_chars": s.max_text_chars}))
        for data in held:  # events that happened while hello was being prepared
            self.send_frame(data)

    def on_close(self) -> None:
        if self.conn is None or self.user is None:
            return
        remaining = self.state.hub.remove(self.conn)
        self.conn = None
        if self.user.user_type is UserType.KEFU:
            self.state.rt.dispatcher().tell(AgentPresence(kefu_id=self.user.id,
                                                          connections=remaining))
        elif self.user.user_type is UserType.KEHU and remaining == 0:
            self.state.rt.dispatcher().tell(CustomerPresence(kehu_id=self.user.id, online=False))

    def send_frame(self, data: bytes) -> None:
        """Send one encoded frame as a text message (loop thread)."""
        if self.before_hello is not None:
            self.before_hello.append(data)
            return
        write_text(self, data)

    def error(self, code: str, message: str, ref: str | None = None,
              details: dict[str, str] | None = None) -> None:
        fields: dict[str, Any] = {"code": code, "message": message, "ref": ref}
        if details:
            fields["details"] = details
        self.send_frame(frame("error", **fields))

    # --- frames ---------------------------------------------------------------------

    async def on_message(self, message: str | bytes) -> None:
        if self.conn is None or self.user is None:
            return
        try:
            parsed = parse_frame(message, self.state.settings.max_text_chars)
        except FrameError as exc:
            self.error(exc.code, exc.message, exc.ref, exc.details)
            return
        match parsed:
            case MessageFrame():
                if self.user.user_type is UserType.KEHU and not await message_allowed(
                        self, self.user.id, parsed.client_msg_id):
                    return  # rate-limited: an error frame, no ack (ws_guard.py)
                self._on_chat(parsed)
            case ReadFrame():
                if self._own_session(parsed.session_id, None):
                    self.state.rt.session(parsed.session_id).tell(MarkRead(
                        user_id=self.user.id, seq=parsed.seq, conn_id=self.conn.id))
            case TypingFrame():
                pair = split_session_id(parsed.session_id)
                if self._own_session(parsed.session_id, None) and pair is not None:
                    self.state.hub._to_users(pair, frame(  # noqa: SLF001 - on the loop
                        "typing", session_id=parsed.session_id, user_id=self.user.id),
                        self.conn.id)
            case ResumeFrame():
                await self._on_resume(parsed)
            case RequestServiceFrame():
                if self.user.user_type is not UserType.KEHU:
                    self.error("forbidden", "only customers request service")
                    return
                self.state.rt.dispatcher().tell(RequestService(
                    kehu_id=self.user.id, kehu_name=self.user.name, priority=parsed.priority,
                    note=parsed.note, conn_id=self.conn.id))
            case SwitchFrame():
                self._on_switch(parsed)
            case RateFrame():
                if self.user.user_type is not UserType.KEHU:
                    self.error("forbidden", "only customers rate sessions")
                elif self._own_session(parsed.session_id, None):
                    self.state.rt.session(parsed.session_id).tell(RateSession(
                        user_id=self.user.id, score=parsed.score, comment=parsed.comment,
                        conn_id=self.conn.id))
            case PingFrame():
                self.send_frame(frame("pong", server_time=iso(now())))

    def _own_session(self, sid: str, ref: str | None) -> bool:
        """True if the caller is one of the two ids in ``sid``; else an error frame
        (the same one as for a missing session: existence is not leaked)."""
        pair = split_session_id(sid)
        assert self.user is not None
        if pair is None or self.user.id not in pair:
            self.error("session_not_found", "session not found", ref)
            return False
        return True

    def _on_chat(self, f: MessageFrame) -> None:
        user, conn = self.user, self.conn
        assert user is not None and conn is not None
        rt = self.state.rt
        common = {"conn_id": conn.id, "client_msg_id": f.client_msg_id, "content": f.content,
                  "content_type": f.content_type.value, "url": f.url}
        if user.user_type is UserType.KEHU:
            if f.session_id is not None:
                pair = split_session_id(f.session_id)
                if pair is None or pair[0] != user.id:
                    self.error("session_not_found", "session not found", f.client_msg_id)
                    return
            sid, number = self.state.hub.next_route(user.id)
            if sid is not None and f.session_id in (None, sid):
                rt.session(sid).tell(PostMessage(sender_id=user.id, route_seq=number, **common))
            else:
                rt.dispatcher().tell(CustomerMessage(kehu_id=user.id, kehu_name=user.name,
                                                     route_seq=number, **common))
        elif user.user_type is UserType.KEFU:
            if f.session_id is None:
                rt.agent(user.id).tell(AgentMessage(kefu_id=user.id, **common))
                return
            pair = split_session_id(f.session_id)
            if pair is None or pair[1] != user.id:
                self.error("session_not_found", "session not found", f.client_msg_id)
                return
            rt.session(f.session_id).tell(PostMessage(sender_id=user.id, **common))
        else:
            self.error("forbidden", "administrators do not chat", f.client_msg_id)

    def _on_switch(self, f: SwitchFrame) -> None:
        user, conn = self.user, self.conn
        assert user is not None and conn is not None
        if user.user_type is not UserType.KEFU:
            self.error("forbidden", "only agents switch customers")
            return
        hub, conn_id = self.state.hub, conn.id

        def reply(result: Any) -> None:  # actor thread
            if isinstance(result, Rejected):
                hub.to_conn(conn_id, frame("error", code=result.reason, message=result.reason,
                                           ref=f.customer_id))

        self.state.rt.dispatcher().tell(SwitchCustomer(kefu_id=user.id,
                                                       customer_id=f.customer_id, reply=reply))

    async def _on_resume(self, f: ResumeFrame) -> None:
        conn = self.conn
        assert conn is not None
        history = self.state.history
        for sid, last in f.since.items():
            if not self._own_session(sid, None):
                continue
            conn.resuming[sid] = []
            sent = 0
            try:
                stored = await self.state.bridge.run_io(history.last_seq, sid)
                after = min(last, stored)  # a claim beyond what exists suppresses nothing
                conn.tracker(sid).raise_floor(after)
                while True:
                    batch = await self.state.bridge.run_io(history.messages_after, sid, after, 500)
                    for m in batch:
                        after = m["seq"]
                        if not conn.tracker(sid).has(after):
                            conn.tracker(sid).add(after)
                            self.send_frame(orjson.dumps({"type": "message", "message": m}))
                            sent += 1
                    if len(batch) < 500:
                        break
            except REDIS_ERRORS:
                self.error("storage_unavailable", "storage unavailable, resume again")
            finally:
                buffered = conn.resuming.pop(sid, [])
            for seq, data in sorted(buffered, key=lambda t: t[0]):
                conn.deliver(sid, seq, data)
            self.send_frame(frame("resumed", session_id=sid, count=sent,
                                  last_seq=conn.tracker(sid).floor))
