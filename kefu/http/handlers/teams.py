"""Teams (issue 14, item 1): admin CRUD under ``/api/teams`` and its members with a skill
level each; agents may read them; customers (the widget) list ids and names under
``/api/widget/teams``. Every write is followed by ``TeamsChanged`` to the dispatcher, which
routes by the teams (docs/routing.md, "Teams")."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, model_validator

from kefu.actors.business_hours import BusinessHours, minutes
from kefu.actors.messages import TeamsChanged
from kefu.domain import UserType, iso, now
from kefu.http.handlers.base import ApiError, BaseHandler
from kefu.http.models import Body, Name, Note
from kefu.http.openapi import doc
from kefu.persistence import teams

TeamId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Seconds = Annotated[int, Field(ge=0, le=86_400)]


HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class HoursBody(Body):
    """Weekly business hours in ``timezone`` (IANA), intervals ``["09:00", "18:00"]`` per
    day (a day not listed is closed), and closed ``holidays`` (``YYYY-MM-DD``)."""

    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    weekly: Annotated[dict[Day, Annotated[list[tuple[HHMM, HHMM]], Field(max_length=6)]],
                      Field(max_length=7)] = {}
    holidays: Annotated[list[datetime.date], Field(max_length=366)] = []

    @model_validator(mode="after")
    def _valid(self) -> HoursBody:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        for day, spans in self.weekly.items():
            if any(minutes(a) >= minutes(b) for a, b in spans):
                raise ValueError(f"{day}: an interval must end after it starts")
        return self

    def stored(self) -> dict[str, Any]:
        return {"timezone": self.timezone,
                "weekly": {d: [list(span) for span in spans] for d, spans in self.weekly.items()},
                "holidays": [d.isoformat() for d in self.holidays]}


class TeamSettings(Body):
    """What an admin sets on a team; every field optional on ``PUT``."""

    name: Name | None = None
    description: Note | None = None
    assignment: Literal["auto", "offer"] | None = None
    offer_seconds: Annotated[int, Field(ge=1, le=600)] | None = None
    overflow_after_seconds: Seconds | None = None
    overflow_to: Literal["all"] | Annotated[list[TeamId], Field(max_length=50)] | None = None
    max_wait_seconds: Seconds | None = None
    hours: HoursBody | None = None

    def fields(self) -> dict[str, Any]:
        fields = self.model_dump(exclude_unset=True)
        if "hours" in fields:
            fields["hours"] = self.hours.stored() if self.hours is not None else None
        return fields


class NewTeamBody(TeamSettings):
    """``POST /api/teams``: an id (lower case, digits, ``_``, ``-``) and a name."""

    id: TeamId
    name: Name

    @model_validator(mode="after")
    def _not_its_own_fallback(self) -> NewTeamBody:
        if isinstance(self.overflow_to, list) and self.id in self.overflow_to:
            raise ValueError("overflow_to must not name the team itself")
        return self


class MemberBody(Body):
    skill: Annotated[int, Field(ge=1, le=5)] = 3


class MemberOut(BaseModel):
    kefu_id: str
    skill: int


class TeamOut(BaseModel):
    id: str
    name: str
    description: str | None
    assignment: str | None
    offer_seconds: int | None = None
    overflow_after_seconds: int | None
    overflow_to: str | list[str] | None
    max_wait_seconds: int | None
    hours: dict[str, Any] | None = None
    created_at: str | None
    updated_at: str | None
    members: list[MemberOut]


class TeamReply(BaseModel):
    team: TeamOut


class TeamListOut(BaseModel):
    teams: list[TeamOut]
    total: int


class TeamDeletedOut(BaseModel):
    team_id: str


DEFAULTS = {"description": None, "assignment": "auto", "offer_seconds": None,
            "overflow_after_seconds": None,
            "overflow_to": None, "max_wait_seconds": None, "hours": None}


class TeamsBase(BaseHandler):
    async def changed(self) -> None:
        """The write is in Redis: the dispatcher reads the teams again before the reply
        (so the next request is routed by them). A dispatcher that cannot answer reads
        them when it next starts; the write stands either way."""
        await self.state.bridge.ask(self.state.rt.dispatcher(), TeamsChanged())


class PublicTeamOut(BaseModel):
    """``open``: inside its business hours now (always, without hours); ``next_open``:
    when it opens next, when closed."""

    id: str
    name: str
    open: bool
    next_open: str | None


class PublicTeamListOut(BaseModel):
    teams: list[PublicTeamOut]


class WidgetTeamsHandler(BaseHandler):
    @doc("The teams a customer may choose before a chat (no login): id and name only",
         roles=(), response=PublicTeamListOut, tag="teams")
    async def get(self) -> None:
        found = await self.state.bridge.run_io(teams.all_teams, self.state.store)
        at = now()
        out = []
        for team in found:
            hours = BusinessHours.from_view(team.get("hours"))
            opens = hours.next_open(at) if hours is not None else at
            out.append({"id": team["id"], "name": team["name"],
                        "open": hours is None or hours.is_open(at),
                        "next_open": iso(opens) if opens is not None else None})
        self.ok("teams_ok", {"teams": out})


class TeamsHandler(TeamsBase):
    @doc("Every team with its members", roles=("admin", "kefu"), response=TeamListOut,
         tag="teams", errors=(401, 403))
    async def get(self) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        found = await self.state.bridge.run_io(teams.all_teams, self.state.store)
        self.ok("teams_ok", {"teams": found, "total": len(found)})

    @doc("Create a team (admin)", body=NewTeamBody, response=TeamReply, tag="teams",
         errors=(400, 401, 403, 409),
         description="409 when the id is taken. `assignment` auto (default) or offer (`offer_seconds`: how long an "
                     "agent has to accept; KEFU_OFFER_SECONDS when unset); "
                     "`overflow_to`: \"all\" or a list of team ids.")
    async def post(self) -> None:
        await self.authenticate(UserType.ADMIN)
        body = self.parse(NewTeamBody)
        fields = {**DEFAULTS, **body.fields()}
        team_id = fields.pop("id")
        team = await self.state.bridge.run_io(teams.create, self.state.store, team_id, fields)
        if team is None:
            raise ApiError(409, "team_exists")
        await self.changed()
        self.ok("team_created", {"team": team})


class TeamHandler(TeamsBase):
    async def found(self, team_id: str) -> dict[str, Any]:
        team = await self.state.bridge.run_io(teams.get, self.state.store, team_id)
        if team is None:
            raise ApiError(404, "team_not_found")
        return team

    @doc("A team with its members", roles=("admin", "kefu"), response=TeamReply,
         path_params=("team_id",), tag="teams", errors=(401, 403, 404))
    async def get(self, team_id: str) -> None:
        await self.authenticate(UserType.ADMIN, UserType.KEFU)
        self.ok("team_ok", {"team": await self.found(team_id)})

    @doc("Change a team's settings (admin)", body=TeamSettings, response=TeamReply,
         path_params=("team_id",), tag="teams", errors=(400, 401, 403, 404))
    async def put(self, team_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        fields = self.parse(TeamSettings).fields()
        if not fields:
            raise ApiError(400, "nothing_to_update")
        if fields.get("name", "") is None:
            raise ApiError(400, "bad_request", {"name": "a team keeps a name"})
        if isinstance(fields.get("overflow_to"), list) and team_id in fields["overflow_to"]:
            raise ApiError(400, "bad_request", {"overflow_to": "not the team itself"})
        team = await self.state.bridge.run_io(teams.update, self.state.store, team_id, fields)
        if team is None:
            raise ApiError(404, "team_not_found")
        await self.changed()
        self.ok("team_updated", {"team": team})

    @doc("Delete a team (admin); its agents stay", response=TeamDeletedOut,
         path_params=("team_id",), tag="teams", errors=(401, 403, 404))
    async def delete(self, team_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        if not await self.state.bridge.run_io(teams.delete, self.state.store, team_id):
            raise ApiError(404, "team_not_found")
        await self.changed()
        self.ok("team_deleted", {"team_id": team_id})


class TeamMemberHandler(TeamsBase):
    @doc("Put an agent in a team with a skill level 1-5, or change it (admin)",
         body=MemberBody, response=TeamReply, path_params=("team_id", "kefu_id"),
         tag="teams", errors=(400, 401, 403, 404),
         description="404 when the team or the agent (a kefu) does not exist. An agent "
                     "may belong to several teams.")
    async def put(self, team_id: str, kefu_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        body = self.parse(MemberBody)
        user = await self.state.bridge.run_io(self.state.users.get, kefu_id)
        if user is None or user.user_type is not UserType.KEFU:
            raise ApiError(404, "kefu_not_found")
        team = await self.state.bridge.run_io(teams.set_member, self.state.store, team_id,
                                              kefu_id, body.skill)
        if team is None:
            raise ApiError(404, "team_not_found")
        await self.changed()
        self.ok("team_updated", {"team": team})

    @doc("Take an agent out of a team (admin)", response=TeamReply,
         path_params=("team_id", "kefu_id"), tag="teams", errors=(401, 403, 404))
    async def delete(self, team_id: str, kefu_id: str) -> None:
        await self.authenticate(UserType.ADMIN)
        if not await self.state.bridge.run_io(teams.remove_member, self.state.store, team_id,
                                              kefu_id):
            raise ApiError(404, "member_not_found")
        await self.changed()
        team = await self.state.bridge.run_io(teams.get, self.state.store, team_id)
        if team is None:
            raise ApiError(404, "team_not_found")
        self.ok("team_updated", {"team": team})


