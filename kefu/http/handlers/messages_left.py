"""Leave a message (issue 14, item 4): a customer leaves a message when nobody can chat
(outside its team's hours, past its max wait, nobody online — or it prefers to); agents
work through the open ones and reply; the customer sees the replies when its widget opens
again (``/mine``). Under ``/api/messages-left``, in OpenAPI and the role matrix."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from kefu.actors.messages import MessageLeft
from kefu.domain import User, UserType
from kefu.http.clean_text import CleanLine, CleanText
from kefu.http.handlers.auth import too_many
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.handlers.queries import PageInfo, Query, page_info, parse_query
from kefu.http.models import Body, Name
from kefu.http.openapi import doc
from kefu.persistence import messages_left, teams
from kefu.persistence.rate_limits import Limit, RateLimits

TeamId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
LEFT_PER_HOUR = 10  # messages one customer may leave in an hour


class LeaveBody(Body):
    """What the widget's form sends: the message and optional contact fields."""

    content: Annotated[CleanText, Field(min_length=1, max_length=4000)]
    name: Name | None = None
    email: Annotated[str, Field(max_length=254,
                                pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[CleanLine, Field(max_length=40, pattern=r"^[0-9+()\-. ]{3,40}$")] | None = None
    team: TeamId | None = None
    reason: Literal["outside_hours", "max_wait", "nobody_online", "chose"] = "chose"


class ReplyBody(Body):
    content: Annotated[CleanText, Field(min_length=1, max_length=4000)]


class LeftOut(BaseModel):
    id: str
    kehu_id: str
    kehu_name: str | None
    team: str | None
    content: str
    name: str | None
    email: str | None
    phone: str | None
    reason: str | None
    status: str
    created_at: str
    reply: str | None
    replied_by: str | None
    replied_by_name: str | None
    replied_at: str | None


class LeftReply(BaseModel):
    message: LeftOut


class LeftListOut(BaseModel):
    messages: list[LeftOut]
    pagination: PageInfo


class MineOut(BaseModel):
    messages: list[LeftOut]


class LeftQuery(Query):
    status: Literal["open", "all"] = "open"


async def teams_of(handler: BaseHandler, me: User) -> set[str] | None:
    """The teams whose messages ``me`` may see (None: every message — an admin)."""
    if me.user_type is UserType.ADMIN:
        return None
    found = await handler.state.bridge.run_io(teams.all_teams, handler.state.store)
    return {t["id"] for t in found if any(m["kefu_id"] == me.id for m in t["members"])}


class MessagesLeftHandler(BaseHandler):
    @doc("Leave a message (a customer)", roles=("kehu",), body=LeaveBody, response=LeftReply,
         tag="messages-left", errors=(400, 401, 403, 404, 429),
         description="The customer stops waiting, if it was. 404 for an unknown team; 429 "
                     f"past {LEFT_PER_HOUR} messages an hour.")
    async def post(self) -> None:
        me = await self.authenticate(UserType.KEHU)
        body = self.parse(LeaveBody)
        store = self.state.store
        if body.team is not None and await self.state.bridge.run_io(
                teams.get, store, body.team) is None:
            raise ApiError(404, "team_not_found")
        limits = RateLimits(store)
        verdict = await self.state.bridge.run_io(limits.hit, Limit("left", LEFT_PER_HOUR, 3600),
                                                 me.id)
        if not verdict.allowed:
            raise too_many(verdict)
        fields = body.model_dump(exclude_none=True)
        left = await self.state.bridge.run_io(messages_left.leave, store, me.id, me.name,
                                              fields)
        await self.ask(MessageLeft(kehu_id=me.id, left=left))
        self.ok("message_left", {"message": left})

    @doc("The messages left that an agent may answer: open (oldest first) or all",
         roles=("admin", "kefu"), response=LeftListOut, query=LeftQuery,
         tag="messages-left", errors=(400, 401, 403),
         description="Admin: every message. Kefu: those of its teams and those without a "
                     "team.")
    async def get(self) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        q = parse_query(self, LeftQuery)
        visible = await teams_of(self, me)
        found, total = await self.state.bridge.run_io(
            messages_left.listing, self.state.store, q.status, visible, q.page, q.limit)
        self.ok("messages_left_ok", {"messages": found,
                                     "pagination": page_info(q.page, q.limit, total)})


class MyMessagesLeftHandler(BaseHandler):
    @doc("The customer's own messages left, newest first, with the replies",
         roles=("kehu",), response=MineOut, tag="messages-left", errors=(401, 403))
    async def get(self) -> None:
        me = await self.authenticate(UserType.KEHU)
        found = await self.state.bridge.run_io(messages_left.of_customer, self.state.store,
                                               me.id)
        self.ok("messages_left_ok", {"messages": found})


class MessageLeftReplyHandler(BaseHandler):
    @doc("Answer a message left (once)", roles=("admin", "kefu"), body=ReplyBody,
         response=LeftReply, path_params=("left_id",), tag="messages-left",
         errors=(400, 401, 403, 404, 409),
         description="Kefu: a message of its teams or without a team (else 404). 409 when "
                     "it was answered already.")
    async def post(self, left_id: str) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(ReplyBody)
        store = self.state.store
        found = await self.state.bridge.run_io(messages_left.get, store, left_id)
        visible = await teams_of(self, me)
        if found is None or (visible is not None and found["team"] is not None
                             and found["team"] not in visible):
            raise ApiError(404, "message_left_not_found")
        result: Any = await self.state.bridge.run_io(messages_left.reply, store, left_id,
                                                     body.content, me.id, me.name)
        if result == 0:
            raise ApiError(409, "already_answered")
        if result == -1:
            raise ApiError(404, "message_left_not_found")
        self.ok("message_left_answered", {"message": result})
