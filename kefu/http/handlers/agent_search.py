"""The agent's own search (issue 15, item 6): ``GET /api/kefu/search?q=&tag=``. A kefu
finds conversations only among those it may read (its own, and those its customers came
from by a transfer or requeue); an admin among all. ``POST /api/messages/search`` stays
admin only (seed). Bounds: :mod:`kefu.persistence.conversation_search`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.domain import UserType
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import PageInfo, absent, page_info, parse_query
from kefu.http.handlers.tag_params import tag_filter
from kefu.http.i18n import MESSAGES
from kefu.http.models import MessageOut, SessionItem
from kefu.http.openapi import doc
from kefu.persistence import conversation_search as search
from kefu.persistence import tags
from kefu.persistence.history import session_view

MESSAGES.update({"kefu_search_ok": ("搜索会话成功", "Conversations found")})


class ConversationSearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    q: Annotated[str, Field(min_length=1, max_length=100, description=(
        "a case-insensitive substring of a message or of the customer's name or id"))] \
        | None = absent()
    tag: Annotated[str, Field(min_length=1, max_length=64)] | None = absent()
    page: Annotated[int, Field(ge=1, le=1000)] = 1
    limit: Annotated[int, Field(ge=1, le=50)] = 20


class ConversationHitOut(BaseModel):
    session: SessionItem
    matches: list[MessageOut] = Field(description="the newest matching messages (at most 3)")
    match_count: int
    name_match: bool


class ConversationSearchOut(BaseModel):
    results: list[ConversationHitOut]
    pagination: PageInfo


class AgentSearchHandler(BaseHandler):
    @doc("Search the caller's own conversations by keyword and/or tag",
         roles=("admin", "kefu"), query=ConversationSearchQuery, response=ConversationSearchOut, tag="sessions",
         errors=(400, 401, 403),
         description="Kefu: its own conversations and those its customers came from by a "
                     "transfer or requeue; admin: all. `q` (1-100 characters) and/or "
                     "`tag` (one of them is required). Conversations most recently "
                     "updated first; the 500 most recent in scope are searched, the "
                     "newest 1,000 messages of each. Deleted messages never match.")
    async def get(self) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        q = parse_query(self, ConversationSearchQuery)
        keyword = q.q.strip().casefold() if q.q else None
        tag = tag_filter(q.tag, me)
        if not keyword and tag is None:
            raise ApiError(400, "bad_request", {"q": "give a keyword or a tag"})
        query = search.Search(user_id=me.id, admin=me.user_type is UserType.ADMIN,
                              keyword=keyword or None, tag=tag, page=q.page, limit=q.limit)

        def read() -> tuple[list[dict[str, Any]], int]:
            hits, total = search.run(self.state.store, query)
            found = tags.of_sessions(self.state.store, [h.meta["session_id"] for h in hits])
            return [{"session": {**session_view(h.meta), "tags": found[h.meta["session_id"]]},
                     "matches": h.matches, "match_count": h.count, "name_match": h.by_name}
                    for h in hits], total

        results, total = await self.state.bridge.run_io(read)
        self.ok("kefu_search_ok", {"results": results,
                                   "pagination": page_info(q.page, q.limit, total)})
