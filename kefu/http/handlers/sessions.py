"""Sessions (seed 1.2–1.6): detail, messages, transfer, end, statistics."""

from __future__ import annotations

from typing import Any

from kefu.actors.messages import EndSession, TransferSession
from kefu.domain import User, UserType, split_session_id
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import TransferBody
from kefu.persistence.history import History, session_view, statistics


def can_read(history: History, meta: dict[str, str], user: User) -> bool:
    """Admin: any. Kehu: its own. Kefu: its own, and sessions transferred to it (their
    history is readable by the new kefu, following ``transferred_to`` links)."""
    if user.user_type is UserType.ADMIN:
        return True
    if user.user_type is UserType.KEHU:
        return meta.get("kehu_id") == user.id
    current = meta
    for _ in range(20):
        if current.get("kefu_id") == user.id:
            return True
        nxt = current.get("transferred_to")
        if not nxt:
            return False
        current = history.meta(nxt)
    return False


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


class SessionDetailHandler(SessionBase):
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        view = session_view(meta)
        hub = self.state.hub
        users = await self.state.bridge.run_io(
            self.state.users.get_many, [view["kefu_id"], view["kehu_id"]])

        def person(uid: str) -> dict[str, Any]:
            u = users.get(uid)
            return {"id": uid, "name": u.name if u else uid,
                    "status": "Online" if hub.count(uid) else "Offline", "avatar": None}

        stats = statistics(meta)
        self.ok("session_detail_ok", {
            "session": view,
            "participants": {"kefu": person(view["kefu_id"]), "kehu": person(view["kehu_id"])},
            "statistics": {"duration_seconds": stats["duration_seconds"],
                           "message_count": stats["total_messages"],
                           "avg_response_time_seconds": stats["avg_response_time_seconds"]},
        })


class SessionMessagesHandler(SessionBase):
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        page = self.query_int("page", 1, 1, 1_000_000)
        limit = self.query_int("limit", 50, 1, 200)
        include_system = self.query_bool("include_system", False)
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
    async def post(self, sid: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(TransferBody)
        meta = await self.load_session(sid, me)
        if me.user_type is UserType.KEFU and meta.get("kefu_id") != me.id:
            raise ApiError(404, "session_not_found")
        result = await self.state.bridge.ask(self.state.rt.dispatcher(), lambda reply: TransferSession(
            session_id=sid, to_kefu_id=body.to_kefu_id, reason=body.reason, note=body.note,
            by_user=me.id, reply=reply))
        data = self.result(result, "session_transferred")
        self.ok("session_transferred", data, to_kefu_id=body.to_kefu_id)


class SessionEndHandler(SessionBase):
    async def post(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        if me.user_type is UserType.KEFU and meta.get("kefu_id") != me.id:
            raise ApiError(404, "session_not_found")
        result = await self.state.bridge.ask(self.state.rt.dispatcher(), lambda reply: EndSession(
            session_id=sid, reason="ended", by_user=me.id, reply=reply))
        self.ok("session_ended_ok", self.result(result, "session_ended_ok"))


class SessionStatisticsHandler(SessionBase):
    async def get(self, sid: str) -> None:
        me = await self.authenticate()
        meta = await self.load_session(sid, me)
        self.ok("session_stats_ok", {"session_id": sid, "statistics": statistics(meta)})
