"""The ``/ws`` endpoint: one handler per connection, on the IOLoop thread.

It authenticates at the handshake (bad token → close 4401), enforces the socket caps
(per user, per client address: close 1008), registers the connection in the
:class:`~kefu.http.connections.Hub`, spends each frame from the connection's
:class:`~kefu.http.frame_budget.FrameBudget`, validates it (``wire.py``) and hands it to
the right actor with ``tell`` — it never waits on an actor. A frame naming a session
touches an existing session the caller takes part in, or costs one ``error`` frame and
nothing else (no handle, no actor, no Redis key). ``typing`` is relayed here, between
the two participants of an active session; ``resume`` is served by ``ws_resume.py``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from tornado.websocket import WebSocketHandler

from kefu import protocol
from kefu.actors.messages import (
    AgentMessage,
    AgentPresence,
    AnswerOffer,
    CustomerMessage,
    CustomerPresence,
    MarkRead,
    PostMessage,
    RateSession,
    Rejected,
    RequestService,
    SwitchCustomer,
    WatcherPresence,
)
from kefu.domain import User, UserType, iso, now
from kefu.http.client_address import client_address
from kefu.http.connections import Conn
from kefu.http.frame_budget import FrameBudget, parse_rates
from kefu.http.frame_permissions import frame_allowed
from kefu.http.state import AppState
from kefu.http.wire import (
    FrameError,
    MessageFrame,
    NoteFrame,
    OfferAnswerFrame,
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
from kefu.http.ws_resume import resume
from kefu.http.ws_sessions import KEFU_HALF, KEHU_HALF, owns, relay_typing, session_of
from kefu.http.ws_uploads import with_upload
from kefu.http.ws_writer import write_text
from kefu.metrics import LOOP, arrived
from kefu.persistence import notes
from kefu.persistence.redis import REDIS_ERRORS
from kefu.persistence.users import token_digest
from kefu.protocol import CloseCode, RejectReason

log = logging.getLogger(__name__)


class ChatSocket(WebSocketHandler):
    state: AppState
    openapi_skip = True  # the WebSocket protocol is documented in docs/protocol.md

    def initialize(self, state: AppState) -> None:
        self.state = state
        self.user: User | None = None
        self.conn: Conn | None = None
        self.token = ""
        self.address = ""
        self.budget: FrameBudget | None = None
        self.auth_unavailable = False
        self.before_hello: list[bytes] | None = []  # frames held until hello is out
        self.arrivals: dict[str, float] = {}  # client_msg_id → arrival, for ack latency

    def check_origin(self, origin: str) -> bool:
        """Browsers only from this host or KEFU_ALLOWED_ORIGINS (else 403; ws_guard.py)."""
        return origin_allowed(origin, self.request.host, self.state.settings.allowed_origins)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        header = self.request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        token = token or self.get_query_argument("token", None)
        self.address = client_address(self.request.remote_ip or "",
                                      self.request.headers.get("X-Forwarded-For"),
                                      self.state.settings.trusted_proxies)
        if token:
            self.token = token_digest(token)
            try:
                self.user = await self.state.bridge.run_io(self.state.users.resolve_token, token)
            except REDIS_ERRORS:
                self.auth_unavailable = True
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        user, s, hub = self.user, self.state.settings, self.state.hub
        if self.auth_unavailable:
            self.close(CloseCode.TRY_AGAIN, "storage unavailable, retry")
            return
        if user is None:
            self.close(CloseCode.UNAUTHORIZED, "unauthorized")
            return
        if self.state.closing:
            self.close(CloseCode.GOING_AWAY, "server closing")
            return
        if (hub.count(user.id) >= s.ws_max_per_user
                or hub.count_address(self.address) >= s.ws_max_per_address):
            self.close(CloseCode.POLICY, "too many connections")
            return
        # frames are small and often written back to back (ack, then an event): without
        # TCP_NODELAY the second waits for the client's delayed ACK (~40 ms)
        self.set_nodelay(True)
        self.budget = FrameBudget(parse_rates(s.ws_frame_rates), s.ws_flood_strikes,
                                  time.monotonic())
        self.conn = hub.add(user.id, user.user_type.value, self, self.address, self.token,
                            s.ws_max_tracked_sessions)
        LOOP.connected(user.user_type.value, 1)
        count = hub.count(user.id)
        node = self.state.rt.node
        if user.user_type is UserType.KEFU:
            self.state.rt.dispatcher().tell(AgentPresence(kefu_id=user.id, connections=count,
                                                          opened=True, node=node))
        elif user.user_type is UserType.KEHU and count == 1:
            self.state.rt.dispatcher().tell(CustomerPresence(kehu_id=user.id, online=True,
                                                             node=node))
        elif user.user_type is UserType.ADMIN and count == 1:
            self.state.rt.dispatcher().tell(WatcherPresence(user_id=user.id, online=True,
                                                            node=node))
        try:
            sessions = await self.state.bridge.run_io(self.state.history.active_sessions, user.id)
        except REDIS_ERRORS:
            sessions = []
        held, self.before_hello = self.before_hello or [], None
        self.send_frame(protocol.encode(
            "hello", user=user.model_dump(mode="json"), sessions=sessions,
            server_time=iso(now()), limits={"max_frame_bytes": s.max_frame_bytes,
                                            "max_text_chars": s.max_text_chars,
                                            "upload_max_bytes": s.upload_max_bytes}))
        for data in held:  # events that happened while hello was being prepared
            self.send_frame(data)

    def on_close(self) -> None:
        if self.conn is None or self.user is None:
            return
        remaining = self.state.hub.remove(self.conn)
        self.conn = None
        LOOP.connected(self.user.user_type.value, -1)
        node = self.state.rt.node
        if self.user.user_type is UserType.KEFU:
            self.state.rt.dispatcher().tell(AgentPresence(kefu_id=self.user.id,
                                                          connections=remaining, node=node))
        elif self.user.user_type is UserType.KEHU and remaining == 0:
            self.state.rt.dispatcher().tell(CustomerPresence(kehu_id=self.user.id,
                                                             online=False, node=node))
        elif self.user.user_type is UserType.ADMIN and remaining == 0:
            self.state.rt.dispatcher().tell(WatcherPresence(user_id=self.user.id,
                                                            online=False, node=node))

    def send_frame(self, data: bytes) -> None:
        """Send one encoded frame as a text message (loop thread)."""
        if self.before_hello is not None:
            self.before_hello.append(data)
            return
        LOOP.sent(data, self.arrivals)
        write_text(self, data)

    def error(self, code: RejectReason, message: str, ref: str | None = None,
              details: dict[str, str] | None = None, **extra: Any) -> None:
        """An ``error`` frame to this connection (loop thread)."""
        if details:
            extra["details"] = details
        self.send_frame(protocol.error(code, ref, message, **extra))

    # --- frames ---------------------------------------------------------------------

    def _over_budget(self, kind: str, ref: str | None) -> bool:
        """Spend one frame of ``kind``; True (and tell or close) if it is refused."""
        assert self.budget is not None
        verdict = self.budget.spend(kind, time.monotonic())
        if verdict.allowed:
            return False
        if verdict.close:
            self.close(CloseCode.POLICY, "frame flood")
        elif verdict.warn:
            wait = max(1, math.ceil(verdict.retry_after))
            self.error(RejectReason.RATE_LIMITED, f"too many {kind} frames, retry in {wait} s",
                       ref, retry_after=wait)
        return True

    async def on_message(self, message: str | bytes) -> None:
        if self.conn is None or self.user is None:
            return
        try:
            parsed = parse_frame(message, self.state.settings.max_text_chars)
        except FrameError as exc:
            LOOP.received("invalid")
            if not self._over_budget("invalid", exc.ref):
                self.error(exc.code, exc.message, exc.ref, exc.details)
            return
        LOOP.received(parsed.type)
        if isinstance(parsed, MessageFrame):
            arrived(self.arrivals, parsed.client_msg_id)  # its ack's latency starts here
        if self._over_budget(parsed.type, getattr(parsed, "client_msg_id", None)):
            return
        if not await frame_allowed(self, parsed) or self.conn is None:  # issue 16
            return  # refused (http/frame_permissions.py), or closed meanwhile
        match parsed:
            case MessageFrame():
                if self.user.user_type is UserType.KEHU and not await message_allowed(
                        self, self.user.id, parsed.client_msg_id):
                    return  # rate-limited: an error frame, no ack (ws_guard.py)
                await self._on_chat(parsed)
            case ReadFrame():
                handle = await session_of(self, parsed.session_id, None, None)
                if handle is not None and self.conn is not None:
                    handle.tell(MarkRead(user_id=self.user.id, seq=parsed.seq,
                                         conn_id=self.conn.id))
            case TypingFrame():
                await relay_typing(self, parsed)
            case ResumeFrame():
                await resume(self, parsed)
            case RequestServiceFrame():
                if self.user.user_type is not UserType.KEHU:
                    self.error(RejectReason.FORBIDDEN, "only customers request service")
                    return
                self.state.rt.dispatcher().tell(RequestService(
                    kehu_id=self.user.id, kehu_name=self.user.name, priority=parsed.priority,
                    note=parsed.note, conn_id=self.conn.id, team=parsed.team))
            case SwitchFrame():
                self._on_switch(parsed)
            case RateFrame():
                if self.user.user_type is not UserType.KEHU:
                    self.error(RejectReason.FORBIDDEN, "only customers rate sessions")
                    return
                handle = await session_of(self, parsed.session_id, KEHU_HALF, None)
                if handle is not None and self.conn is not None:
                    handle.tell(RateSession(user_id=self.user.id, score=parsed.score,
                                            comment=parsed.comment, conn_id=self.conn.id))
            case PingFrame():
                self.send_frame(protocol.pong(iso(now())))
            case OfferAnswerFrame():
                self._on_offer_answer(parsed)
            case NoteFrame():
                await self._on_note(parsed)

    async def _on_chat(self, f: MessageFrame) -> None:
        user, conn = self.user, self.conn
        assert user is not None and conn is not None
        if user.user_type is not UserType.ADMIN:
            checked = await with_upload(self, f)  # an upload url: its session (ws_uploads.py)
            if checked is None:
                return
            f = checked
        rt = self.state.rt
        common = {"conn_id": conn.id, "client_msg_id": f.client_msg_id, "content": f.content,
                  "content_type": f.content_type.value, "url": f.url}
        if user.user_type is UserType.KEHU:
            if f.session_id is not None and not owns(self, f.session_id, KEHU_HALF,
                                                     f.client_msg_id):
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
            handle = await session_of(self, f.session_id, KEFU_HALF, f.client_msg_id)
            if handle is not None:
                handle.tell(PostMessage(sender_id=user.id, **common))
        else:
            self.error(RejectReason.FORBIDDEN, "administrators do not chat", f.client_msg_id)

    async def _on_note(self, f: NoteFrame) -> None:
        """A private note from the session's agent: stored apart from the messages, and
        to that agent's connections only (issue 15; never to the customer)."""
        user = self.user
        assert user is not None
        if user.user_type is not UserType.KEFU:
            self.error(RejectReason.FORBIDDEN, "only agents write notes")
            return
        if not owns(self, f.session_id, KEFU_HALF, None):
            return
        try:
            note = await self.state.bridge.run_io(notes.add, self.state.store, f.session_id,
                                                  user.id, user.name, f.content)
        except REDIS_ERRORS:
            self.error(RejectReason.STORAGE_UNAVAILABLE, "the note was not stored")
            return
        self.state.rt.outbox.to_users([user.id], protocol.encode("note", note=note))

    def _on_offer_answer(self, f: OfferAnswerFrame) -> None:
        user, conn = self.user, self.conn
        assert user is not None and conn is not None
        if user.user_type is not UserType.KEFU:
            self.error(RejectReason.FORBIDDEN, "only agents answer offers", f.offer_id)
            return
        self.state.rt.dispatcher().tell(AnswerOffer(
            kefu_id=user.id, offer_id=f.offer_id, accept=f.type == "accept", conn_id=conn.id))

    def _on_switch(self, f: SwitchFrame) -> None:
        user, conn = self.user, self.conn
        assert user is not None and conn is not None
        if user.user_type is not UserType.KEFU:
            self.error(RejectReason.FORBIDDEN, "only agents switch customers")
            return
        outbox, conn_id = self.state.rt.outbox, conn.id

        def refused(result: Any) -> None:  # the dispatcher's (or the subscriber's) thread
            if isinstance(result, Rejected):
                outbox.to_conn(conn_id, protocol.error(result.reason, f.customer_id))

        self.state.rt.dispatcher().ask(SwitchCustomer(kefu_id=user.id,
                                                      customer_id=f.customer_id), refused)
