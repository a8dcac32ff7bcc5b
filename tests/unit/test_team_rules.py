"""Teams in routing (kefu/actors/team_rules.py, seats, explain_pick): reach, overflow,
skills as a tie-break, shared capacity — pure, with the clock passed in."""

from __future__ import annotations

from kefu.actors.routing import AgentSlot, RoundRobin, explain_pick, pick_agent
from kefu.actors.seats import Seats
from kefu.actors.team_rules import TeamBook
from kefu.domain import AgentStatus


def team(team_id: str, members: dict[str, int], **settings: object) -> dict[str, object]:
    return {"id": team_id, "name": team_id.title(), **settings,
            "members": [{"kefu_id": k, "skill": v} for k, v in members.items()]}


def book() -> TeamBook:
    return TeamBook.from_views([
        team("billing", {"a": 5, "b": 2}, overflow_after_seconds=60, overflow_to=["tech"]),
        team("tech", {"c": 3}, overflow_after_seconds=30, overflow_to="all"),
        team("vip", {"a": 4}),  # never overflows
    ])


def slot(kefu_id: str, load: int = 0, seats: int = 2) -> AgentSlot:
    s = AgentSlot(kefu_id=kefu_id, name=kefu_id, max_sessions=seats,
                  status=AgentStatus.ONLINE, connections=1)
    s.active = {f"k{i}:{kefu_id}" for i in range(load)}
    return s


def test_reach_is_the_team_then_its_fallbacks_after_the_overflow_time() -> None:
    b = book()
    assert b.reach(None, 0) is None  # no team: every agent
    assert b.reach("gone", 0) is None  # a deleted team: every agent
    assert b.reach("billing", 59.9) == {"a", "b"}
    assert b.reach("billing", 60) == {"a", "b", "c"}  # + tech's members
    assert b.reach("tech", 29) == {"c"}
    assert b.reach("tech", 30) is None  # overflow_to "all"
    assert b.reach("vip", 10**6) == {"a"}
    assert b.teams_of("a") == {"billing", "vip"} and b.skill("billing", "b") == 2
    assert b.sees("c", "billing", 61) and not b.sees("c", "billing", 59)


def test_a_customer_is_only_given_to_an_agent_in_its_reach() -> None:
    seats = Seats(agents={k: slot(k) for k in ("a", "b", "c")})
    b = book()
    assert seats.pick("least_loaded", b.reach("tech", 0)).kefu_id == "c"
    seats.agents["c"].active = {"x:c", "y:c"}  # full
    assert seats.pick("least_loaded", b.reach("tech", 0)) is None
    assert seats.pick("least_loaded", b.reach("tech", 30)) is not None  # overflowed
    assert seats.online_capacity(b.reach("billing", 0)) == 4
    assert seats.online_capacity() == 6


def test_capacity_is_shared_across_teams() -> None:
    """``a`` is in billing and vip with 2 seats: two billing customers fill it for vip."""
    seats = Seats(agents={"a": slot("a", load=2), "b": slot("b")})
    assert seats.pick("least_loaded", book().reach("vip", 0)) is None
    assert seats.pick("least_loaded", book().reach("billing", 0)).kefu_id == "b"


def test_skill_breaks_a_tie_of_the_strategy_and_is_explained() -> None:
    slots = [slot("a"), slot("b")]
    skills = book().teams["billing"].members
    # equal utilization and never assigned: the higher skill (a: 5) over the lower id
    slots[1].kefu_id = "0b"
    assert pick_agent(slots, "least_loaded", RoundRobin()).kefu_id == "0b"
    assert pick_agent(slots, "least_loaded", RoundRobin(),
                      {"a": 5, "0b": 2}).kefu_id == "a"
    # a lower load still wins over skill
    slots[0].active = {"x:a"}
    assert pick_agent(slots, "least_loaded", RoundRobin(), {"a": 5, "0b": 2}).kefu_id == "0b"
    why = explain_pick([slot("a"), slot("b"), slot("c")], "least_loaded", slot("a"),
                       {"a", "b"}, skills)
    assert [c["kefu_id"] for c in why["candidates"]] == ["a", "b"]
    assert why["candidates"][0]["skill"] == 5
    assert why["skipped"] == [{"kefu_id": "c", "reason": "not_in_team", "load": 0,
                               "max_sessions": 2}]
