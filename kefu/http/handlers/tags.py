"""Tags on conversations (issue 15, item 3): ``/api/sessions/{session_id}/tags`` (read and
replace a session's tags), ``/api/tags`` (the tags in use, for suggestions) and
``/api/analytics/tags`` (figures by tag). Tags are the agents' words about a conversation:
admins and the agents who may read the session (its agent, those it was transferred to)
read and set them; a customer never (403 on its own session, 404 on another's).

Bounds: at most 10 tags per session, each 1–32 letters, digits, ``_``, ``.`` or ``-``
after normalising (NFKC, case-folded, inner spaces → ``-``); a body over the bounds is a
400 with ``details``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from kefu.domain import UserType
from kefu.http.handlers.analytics import AnalyticsBase, RangeQuery
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.sessions import SessionBase
from kefu.http.i18n import MESSAGES
from kefu.http.models import Body
from kefu.http.openapi import doc
from kefu.persistence import tags
from kefu.persistence.listings import TimeRange
from kefu.protocol import encode

MESSAGES.update({
    "tags_ok": ("获取标签成功", "Tags"),
    "tags_set": ("标签已更新", "Tags updated"),
    "tags_used_ok": ("获取常用标签成功", "Tags in use"),
    "analytics_tags_ok": ("获取标签统计成功", "Statistics by tag"),
})

RawTag = Annotated[str, Field(min_length=1, max_length=64)]


class TagsBody(Body):
    """The session's new tags (replacing the old ones); normalised as stored."""

    tags: Annotated[list[RawTag], Field(max_length=tags.MAX_TAGS * 2)]


class SessionTagsOut(BaseModel):
    session_id: str
    tags: list[str]


class TagUseOut(BaseModel):
    tag: str
    sessions: int


class TagsUsedOut(BaseModel):
    tags: list[TagUseOut]


class TagFiguresOut(BaseModel):
    tag: str
    sessions: int
    completed_sessions: int
    messages: int
    rated_sessions: int
    avg_satisfaction: float | None


class TagAnalyticsOut(BaseModel):
    start_date: str
    end_date: str
    tags: list[TagFiguresOut]


class SessionTagsHandler(SessionBase):
    async def agent_session(self, sid: str) -> str:
        """The session's kefu id if the caller (admin, or an agent who may read it) may
        tag it; a kehu: 403."""
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU, UserType.KEHU)
        if me.user_type is UserType.KEHU:
            raise ApiError(403, "forbidden")
        meta = await self.load_session(sid, me)
        return meta.get("kefu_id", "")

    @doc("A conversation's tags", roles=("admin", "kefu"), response=SessionTagsOut,
         path_params=("session_id",), tag="sessions", errors=(401, 403, 404))
    async def get(self, sid: str) -> None:
        await self.agent_session(sid)
        found = await self.state.bridge.run_io(tags.of_session, self.state.store, sid)
        self.ok("tags_ok", {"session_id": sid, "tags": found})

    @doc("Replace a conversation's tags (its agent hears a `tags` frame)",
         roles=("admin", "kefu"), body=TagsBody, response=SessionTagsOut,
         path_params=("session_id",), tag="sessions", errors=(400, 401, 403, 404),
         description="At most 10 tags, each 1-32 letters, digits, `_`, `.`, `-` once "
                     "normalised (NFKC, case-folded, spaces → `-`, duplicates merged). "
                     "Admin: any session. Kefu: the sessions it may read (its own, those "
                     "transferred to it).")
    async def put(self, sid: str) -> None:
        kefu_id = await self.agent_session(sid)
        body = self.parse(TagsBody)
        try:
            wanted = tags.normalise(body.tags)
        except tags.TagError as exc:
            raise ApiError(400, "bad_request", {"tags": str(exc)}) from exc
        found = await self.state.bridge.run_io(tags.set_tags, self.state.store, sid, wanted)
        if found is None:
            raise ApiError(404, "session_not_found")
        me = self.user
        assert me is not None
        self.state.rt.outbox.to_users(sorted({kefu_id, me.id} - {""}),
                                      encode("tags", session_id=sid, tags=found))
        self.ok("tags_set", {"session_id": sid, "tags": found})


class TagsUsedHandler(BaseHandler):
    @doc("The tags in use, most used first (at most 200): suggestions for tagging",
         roles=("admin", "kefu"), response=TagsUsedOut, tag="sessions", errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        found = await self.state.bridge.run_io(tags.used, self.state.store)
        self.ok("tags_used_ok", {"tags": found})


class TagAnalyticsHandler(AnalyticsBase):
    @doc("Sessions by tag (the 200 most used tags, those with sessions in the range): how "
         "many were created in the range, ended, their messages and average rating (admin)",
         query=RangeQuery,
         response=TagAnalyticsOut, tag="analytics", errors=(400, 401, 403),
         description="Dates as the other analytics (default: the last 7 UTC days); "
                     "sessions count by their creation time.")
    async def get(self) -> None:
        _reader, start, end = await self.prepare_range()
        created = TimeRange(lo=float(start), hi=float(end + 1), hi_open=True)  # whole seconds

        def read() -> list[tags.TagFigures]:
            names = [str(row["tag"]) for row in tags.used(self.state.store)]
            return tags.figures(self.state.store, names, created)

        rows = await self.state.bridge.run_io(read)
        self.ok("analytics_tags_ok", {
            **self.span(start, end),
            "tags": [{"tag": f.tag, "sessions": f.sessions, "completed_sessions": f.completed,
                      "messages": f.messages, "rated_sessions": f.rated,
                      "avg_satisfaction": round(f.satisfaction_total / f.rated, 2)
                      if f.rated else None}
                     for f in sorted(rows, key=lambda f: (-f.sessions, f.tag)) if f.sessions],
        })
