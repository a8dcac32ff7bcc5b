"""Sessions (seed 1.2–1.6): detail, messages, transfer, end, statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from kefu.actors.messages import EndSession, TransferSession
from kefu.domain import User, UserType, session_id, split_session_id
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import PageInfo, parse_query
from kefu.http.models import MessageOut, SessionItem, TransferBody
from kefu.http.openapi import doc
from kefu.persistence.history import History, session_view, statistics

# --- queries and replies (seed 1.2–1.6) ---------------------------------------------------


class SessionMessagesQuery(BaseModel):
    """Query of 1.3: ``limit`` defaults to 50 here (the seed's), not 20."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    include_system: bool = Field(default=False, description=(
        "also the session's events (opened, transferred, completed) as messages "
        "from \"system\" with content_type \"System\""))


class ParticipantOut(BaseModel):
    id: str
    name: str
    status: Literal["Online", "Offline"]
    avatar: str | None


class ParticipantsOut(BaseModel):
    kefu: ParticipantOut
    kehu: ParticipantOut


class DetailStatisticsOut(BaseModel):
    duration_seconds: int
    message_count: int
    avg_response_time_seconds: float | None
    satisfaction_score: float | None = None
    rating_comment: str | None = None


class SessionDetailOut(BaseModel):
    session: SessionItem
    participants: ParticipantsOut
    statistics: DetailStatisticsOut


class SessionMessageOut(MessageOut):
    """A stored message, or (``include_system``) a session event as a message from
    ``system`` with ``content_type`` "System", ``seq`` null and the raw ``event``."""

    event: dict[str, Any] | None = None


class MorePageInfo(PageInfo):
    has_more: bool


class MessagesPageOut(BaseModel):
    session_id: str
    messages: list[SessionMessageOut]
    pagination: MorePageInfo


class TransferOut(BaseModel):
    """To a team: ``to_team``, and ``status`` queued (the customer waits at the front of
    the team's queue; ``to_kefu_id`` and ``new_session_id`` null) or assigned (an agent
    of the team had room)."""

    session_id: str
    from_kefu_id: str
    to_kefu_id: str | None
    transfer_time: str
    reason: str | None
    note: str | None
    new_session_id: str | None
    to_team: str | None = None
    status: str | None = None


class EndOut(BaseModel):
    session_id: str
    ended_at: str
    duration_seconds: int
    message_count: int


class SessionStatisticsOut(BaseModel):
    total_messages: int
    kefu_messages: int
    kehu_messages: int
    avg_response_time_seconds: float | None
    first_response_time_seconds: float | None
    duration_seconds: int
    satisfaction_score: float | None
    rating_comment: str | None = None  # what the customer wrote with its rating


class StatisticsOut(BaseModel):
    session_id: str
    statistics: SessionStatisticsOut


class RoutingOut(BaseModel):
    session_id: str
    routing: dict[str, Any] | None = Field(
        description="why this agent, as stored with the session's last assignment: `by` "
                    "(strategy, admin, agent, transfer), `kefu_id`, `at`; for a strategy "
                    "also `strategy`, `rule`, `candidates` (each with load, max_sessions, "
                    "utilization, efficiency_score, chosen) and `skipped` (each with "
                    "`reason`: offline, away, busy, full); null for a session opened "
                    "before explanations were kept")


def can_read(history: History, meta: dict[str, str], user: User) -> bool:
    """Admin: any. Kehu: its own. Kefu: every session of a customer it serves or served
    (issue 15, customer context: it has a session with that kehu, active or not), so the
    customer's whole history is readable by its agent: its own sessions, the earlier ones
    that came to it by a transfer, a transfer to a team or a requeue, and the customer's
    conversations with other agents. A kefu that never had the customer: none."""
    if user.user_type is UserType.ADMIN:
        return True
    if user.user_type is UserType.KEHU:
        return meta.get("kehu_id") == user.id
    if meta.get("kefu_id") == user.id:
        return True
    kehu_id = meta.get("kehu_id", "")
    return bool(kehu_id) and history.exists(session_id(kehu_id, user.id))


class SessionBase(BaseHandler):
    async def load_session(self, sid: str, user: User) -> dict[str, str]:
        """The session's hash if ``user`` may see it; 404 otherwise (no existence leak)."""
        if split_session_id(sid) is None:
            raise ApiError(404, "session_not_found")
        history = self.state.history

        def read() -> dict[str, str] | None:
            meta = history.meta(sid)
            return meta if meta and can_read(history, meta, user) else None

        meta = await self.state.bridge.run_io(read)
        if meta is None:
            raise ApiError(404, "session_not_found")
        return meta


OWN = ("Admin: any session. Kefu: any session of a customer it serves or served (its own, "
       "those transferred to it, the customer's with other agents). Kehu: its own. "
       "Anyone else: 404, as for a missing session.")


class SessionDetailHandler(SessionBase):
    @doc("A session with its participants and statistics (seed 1.2)",
         roles=("admin", "kefu", "kehu"), response=SessionDetailOut,
         path_params=("session_id",), tag="sessions", errors=(401, 404), description=OWN)
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        view = session_view(meta)
        online = self.state.online
        users = await self.state.bridge.run_io(
            self.state.users.get_many, [view["kefu_id"], view["kehu_id"]])

        def person(uid: str) -> dict[str, Any]:
            u = users.get(uid)
            return {"id": uid, "name": u.name if u else uid,
                    "status": "Online" if online.count(uid) else "Offline", "avatar": None}

        stats = statistics(meta)
        self.ok("session_detail_ok", {
            "session": view,
            "participants": {"kefu": person(view["kefu_id"]), "kehu": person(view["kehu_id"])},
            "statistics": {"duration_seconds": stats["duration_seconds"],
                           "message_count": stats["total_messages"],
                           "avg_response_time_seconds": stats["avg_response_time_seconds"],
                           "satisfaction_score": stats["satisfaction_score"],
                           "rating_comment": stats["rating_comment"]},
        })


class SessionMessagesHandler(SessionBase):
    @doc("A session's messages, oldest first, paginated (seed 1.3)",
         roles=("admin", "kefu", "kehu"), query=SessionMessagesQuery, response=MessagesPageOut,
         path_params=("session_id",), tag="sessions", errors=(400, 401, 404),
         description=OWN)
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        q = parse_query(self, SessionMessagesQuery)
        page, limit, include_system = q.page, q.limit, q.include_system
        meta = await self.load_session(sid, me)
        messages, total = await self.state.bridge.run_io(
            self.state.history.page, sid, meta, page, limit, include_system)
        self.ok("session_messages_ok", {
            "session_id": sid, "messages": messages,
            "pagination": {"page": page, "limit": limit, "total": total,
                           "total_pages": (total + limit - 1) // limit,
                           "has_more": page * limit < total},
        })


class SessionTransferHandler(SessionBase):
    @doc("Transfer an active session to another kefu (seed 1.4)", roles=("admin", "kefu"),
         body=TransferBody, response=TransferOut, path_params=("session_id",),
         tag="sessions", errors=(400, 401, 403, 404, 409),
         description="Admin: any session. Kefu: its own active session (else 404). "
                     "`to_kefu_id` (an agent) or `to_team` (the front of the team's "
                     "queue). 404 for an unknown target kefu or team; 409 when the "
                     "session is not active, the target is the same kefu or is not "
                     "available.")
    async def post(self, sid: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(TransferBody)
        if (problem := body.target_error()) is not None:
            raise ApiError(400, "bad_request", problem)
        meta = await self.load_session(sid, me)
        if me.user_type is UserType.KEFU and meta.get("kefu_id") != me.id:
            raise ApiError(404, "session_not_found")
        data = await self.ask(TransferSession(
            session_id=sid, to_kefu_id=body.to_kefu_id, reason=body.reason, note=body.note,
            by_user=me.id, to_team=body.to_team))
        if body.to_team is not None:
            self.ok("session_transferred_team", data, team=body.to_team)
        else:
            self.ok("session_transferred", data, to_kefu_id=body.to_kefu_id)


class SessionEndHandler(SessionBase):
    @doc("End an active session (seed 1.5)", roles=("admin", "kefu", "kehu"),
         response=EndOut, path_params=("session_id",), tag="sessions",
         errors=(401, 404, 409),
         description="Admin: any session. Kefu: its own (else 404). Kehu: its own. 409 "
                     "when the session is not active.")
    async def post(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        if me.user_type is UserType.KEFU and meta.get("kefu_id") != me.id:
            raise ApiError(404, "session_not_found")
        self.ok("session_ended_ok", await self.ask(EndSession(session_id=sid, reason="ended",
                                                              by_user=me.id)))


class SessionStatisticsHandler(SessionBase):
    @doc("A session's statistics from its stored messages (seed 1.6)",
         roles=("admin", "kefu", "kehu"), response=StatisticsOut,
         path_params=("session_id",), tag="sessions", errors=(401, 404), description=OWN)
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        self.ok("session_stats_ok", {"session_id": sid, "statistics": statistics(meta)})


class SessionRoutingHandler(SessionBase):
    @doc("Why this agent: the explanation stored with the session's last assignment",
         roles=("admin", "kefu"), response=RoutingOut, path_params=("session_id",),
         tag="sessions", errors=(401, 403, 404),
         description="Admin: any session. Kefu: its own and those transferred to it. A "
                     "kehu may not see it (other agents' loads): 403.")
    async def get(self, sid: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        meta = await self.load_session(sid, me)
        raw = meta.get("routing")
        self.ok("session_routing_ok",
                {"session_id": sid, "routing": orjson.loads(raw) if raw else None})
