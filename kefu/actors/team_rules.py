"""Teams as routing sees them: pure data and functions, no pykka, no Redis.

A waiting customer may belong to a team (it entered through it, or was transferred to it).
Its *reach* is the set of agents that may take it: the team's members; after
``overflow_after_seconds`` of waiting also the members of the teams in ``overflow_to``
(or every agent, when ``overflow_to`` is ``"all"`` or unset). A customer without a team
— or whose team was deleted — reaches every agent. An agent's capacity is one number
shared by all its teams (docs/routing.md, "Teams").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kefu.actors.business_hours import BusinessHours

ALL = "all"


@dataclass(frozen=True, slots=True)
class TeamRule:
    """One team's routing settings and members (kefu id → skill 1..5)."""

    team_id: str
    name: str
    members: dict[str, int] = field(default_factory=dict)
    assignment: str = "auto"
    offer_seconds: float | None = None
    overflow_after_seconds: float | None = None
    overflow_to: str | tuple[str, ...] | None = None
    max_wait_seconds: float | None = None
    hours: BusinessHours | None = None  # None: always open

    @classmethod
    def from_view(cls, team: dict[str, Any]) -> TeamRule:
        """A team as ``persistence.teams`` reads it → its rule."""
        overflow_to = team.get("overflow_to")
        return cls(team_id=team["id"], name=team.get("name") or team["id"],
                   members={m["kefu_id"]: int(m["skill"]) for m in team.get("members", [])},
                   assignment=team.get("assignment") or "auto",
                   offer_seconds=team.get("offer_seconds"),
                   overflow_after_seconds=team.get("overflow_after_seconds"),
                   overflow_to=tuple(overflow_to) if isinstance(overflow_to, list)
                   else overflow_to,
                   max_wait_seconds=team.get("max_wait_seconds"),
                   hours=BusinessHours.from_view(team.get("hours")))


@dataclass
class TeamBook:
    """Every team's rule, by id (the dispatcher's copy, reloaded when an admin edits)."""

    teams: dict[str, TeamRule] = field(default_factory=dict)

    @classmethod
    def from_views(cls, views: list[dict[str, Any]]) -> TeamBook:
        return cls({v["id"]: TeamRule.from_view(v) for v in views})

    def get(self, team_id: str | None) -> TeamRule | None:
        return self.teams.get(team_id) if team_id else None

    def overflowed(self, team_id: str | None, waited: float) -> bool:
        """Has a customer of ``team_id`` waited long enough to overflow?"""
        rule = self.get(team_id)
        return (rule is not None and rule.overflow_after_seconds is not None
                and waited >= rule.overflow_after_seconds)

    def reach(self, team_id: str | None, waited: float) -> set[str] | None:
        """The kefu ids that may take a customer of ``team_id`` who waited ``waited``
        seconds; None: every agent."""
        rule = self.get(team_id)
        if rule is None:
            return None
        if not self.overflowed(team_id, waited):
            return set(rule.members)
        if rule.overflow_to in (None, ALL) or isinstance(rule.overflow_to, str):
            return None
        reach = set(rule.members)
        for other in rule.overflow_to:
            fallback = self.teams.get(other)
            if fallback is not None:
                reach |= set(fallback.members)
        return reach

    def skill(self, team_id: str | None, kefu_id: str) -> int:
        """The agent's skill in the team (0: not a member, or no team)."""
        rule = self.get(team_id)
        return rule.members.get(kefu_id, 0) if rule is not None else 0

    def closed(self, team_id: str | None, at: float) -> bool:
        """Is the team outside its business hours at ``at``? (No team, no hours: open.)"""
        rule = self.get(team_id)
        return rule is not None and rule.hours is not None and not rule.hours.is_open(at)

    def waited_too_long(self, team_id: str | None, waited: float) -> bool:
        """Past the team's ``max_wait_seconds``?"""
        rule = self.get(team_id)
        return (rule is not None and rule.max_wait_seconds is not None
                and waited >= rule.max_wait_seconds)

    def teams_of(self, kefu_id: str) -> set[str]:
        return {t for t, rule in self.teams.items() if kefu_id in rule.members}

    def sees(self, kefu_id: str, team_id: str | None, waited: float) -> bool:
        """Does the agent's console list this waiting customer (it could take it)?"""
        reach = self.reach(team_id, waited)
        return reach is None or kefu_id in reach
