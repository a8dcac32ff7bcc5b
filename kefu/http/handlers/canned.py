"""Canned responses (issue 15, item 2) under ``/api/canned-responses``: an admin manages
the ones for everyone and for a team (in the dashboard); an agent its personal ones; an
agent uses its own, its teams' and everyone's with ``/`` in the composer, where
``{customer_name}`` and ``{agent_name}`` are filled in."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from kefu.domain import User, UserType
from kefu.http.clean_text import CleanText
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import Body, Name
from kefu.http.openapi import doc
from kefu.persistence import canned, teams

Shortcut = Annotated[str, Field(pattern=r"^[^\s/]{1,32}$")]
TeamId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Content = Annotated[CleanText, Field(min_length=1, max_length=4000)]


class CannedBody(Body):
    """``team``: an admin's response for one team (none: for everyone). An agent's are
    personal (no ``team``)."""

    shortcut: Shortcut
    title: Name | None = None
    content: Content
    team: TeamId | None = None


class CannedUpdate(Body):
    shortcut: Shortcut | None = None
    title: Name | None = None
    content: Content | None = None


class CannedOut(BaseModel):
    id: str
    shortcut: str
    title: str | None
    content: str
    owner: str | None
    team: str | None
    created_at: str
    updated_at: str
    created_by: str | None


class CannedReply(BaseModel):
    response: CannedOut


class CannedListOut(BaseModel):
    responses: list[CannedOut]
    total: int


class CannedDeletedOut(BaseModel):
    id: str


async def my_teams(handler: BaseHandler, me: User) -> set[str]:
    found = await handler.state.bridge.run_io(teams.all_teams, handler.state.store)
    return {t["id"] for t in found if any(m["kefu_id"] == me.id for m in t["members"])}


def visible(item: dict[str, Any], me: User, mine: set[str]) -> bool:
    """An admin sees every response; an agent its own, its teams' and everyone's."""
    if me.user_type is UserType.ADMIN:
        return True
    if item["owner"]:
        return item["owner"] == me.id
    return item["team"] is None or item["team"] in mine


class CannedListHandler(BaseHandler):
    @doc("The canned responses the caller may use (an agent) or manage (an admin)",
         roles=("admin", "kefu"), response=CannedListOut, tag="canned-responses",
         errors=(401, 403))
    async def get(self) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        mine = await my_teams(self, me) if me.user_type is UserType.KEFU else set()
        found = await self.state.bridge.run_io(canned.all_responses, self.state.store)
        shown = [c for c in found if visible(c, me, mine)]
        self.ok("canned_ok", {"responses": shown, "total": len(shown)})

    @doc("Add a canned response", roles=("admin", "kefu"), body=CannedBody,
         response=CannedReply, tag="canned-responses", errors=(400, 401, 403, 404),
         description="Admin: for everyone, or for a team (`team`; 404 if unknown). Kefu: "
                     "a personal one (a `team` is refused 403).")
    async def post(self) -> None:
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        body = self.parse(CannedBody)
        fields = body.model_dump()
        if me.user_type is UserType.KEFU:
            if body.team is not None:
                raise ApiError(403, "forbidden")
            fields["owner"] = me.id
        elif body.team is not None and await self.state.bridge.run_io(
                teams.get, self.state.store, body.team) is None:
            raise ApiError(404, "team_not_found")
        made = await self.state.bridge.run_io(canned.create, self.state.store, fields, me.id)
        self.ok("canned_created", {"response": made})


class CannedHandler(BaseHandler):
    async def editable(self, canned_id: str) -> tuple[User, dict[str, Any]]:
        """The response if the caller may change it: 404 when it cannot see it, 403 when
        it sees it but it is not its own (an agent and a shared response)."""
        me = await self.authenticate(UserType.ADMIN, UserType.KEFU)
        item = await self.state.bridge.run_io(canned.get, self.state.store, canned_id)
        mine = await my_teams(self, me) if me.user_type is UserType.KEFU else set()
        if item is None or not visible(item, me, mine):
            raise ApiError(404, "canned_not_found")
        if me.user_type is UserType.KEFU and item["owner"] != me.id:
            raise ApiError(403, "forbidden")
        return me, item

    @doc("Change a canned response", roles=("admin", "kefu"), body=CannedUpdate,
         response=CannedReply, path_params=("canned_id",), tag="canned-responses",
         errors=(400, 401, 403, 404), description="Kefu: its own personal ones only.")
    async def put(self, canned_id: str) -> None:
        await self.editable(canned_id)
        fields = self.parse(CannedUpdate).model_dump(exclude_unset=True)
        if not fields:
            raise ApiError(400, "nothing_to_update")
        if any(fields.get(name, "") is None for name in ("shortcut", "content")):
            raise ApiError(400, "bad_request", {"content": "a response keeps its shortcut "
                                                           "and content"})
        found = await self.state.bridge.run_io(canned.update, self.state.store, canned_id,
                                               fields)
        if found is None:
            raise ApiError(404, "canned_not_found")
        self.ok("canned_updated", {"response": found})

    @doc("Delete a canned response", roles=("admin", "kefu"), response=CannedDeletedOut,
         path_params=("canned_id",), tag="canned-responses", errors=(401, 403, 404),
         description="Kefu: its own personal ones only.")
    async def delete(self, canned_id: str) -> None:
        await self.editable(canned_id)
        await self.state.bridge.run_io(canned.delete, self.state.store, canned_id)
        self.ok("canned_deleted", {"id": canned_id})
