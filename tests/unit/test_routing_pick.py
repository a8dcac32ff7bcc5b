"""pick_agent strategies (kefu/actors/routing.py)."""

from __future__ import annotations

import pytest

from kefu.actors.routing import AgentSlot, RoundRobin, efficiency_score, explain_pick, pick_agent
from kefu.domain import AgentStatus

STRATEGIES = ["least_loaded", "round_robin", "efficiency"]


def agent(kid: str, load: int = 0, max_sessions: int = 5, online: bool = True,
          connections: int = 1, last: float = 0.0, **kw) -> AgentSlot:
    return AgentSlot(kid, kid.upper(), max_sessions=max_sessions,
                     status=AgentStatus.ONLINE if online else AgentStatus.AWAY,
                     connections=connections, active={f"{kid}_s{i}" for i in range(load)},
                     last_assigned_at=last, **kw)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_none_when_no_agents(strategy):
    assert pick_agent([], strategy, RoundRobin()) is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_none_when_nobody_has_room(strategy):
    slots = [agent("a", load=5), agent("b", online=False), agent("c", connections=0),
             agent("d", load=2, max_sessions=2)]
    assert pick_agent(slots, strategy, RoundRobin()) is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_only_available_agent_is_chosen(strategy):
    slots = [agent("a", load=5), agent("b", online=False), agent("c", load=4),
             agent("d", connections=0)]
    assert pick_agent(slots, strategy, RoundRobin()).kefu_id == "c"


# --- least_loaded ----------------------------------------------------------------------

def test_least_loaded_lowest_utilization():
    slots = [agent("a", load=3), agent("b", load=1), agent("c", load=2)]
    assert pick_agent(slots, "least_loaded", RoundRobin()).kefu_id == "b"


def test_least_loaded_uses_utilization_not_raw_load():
    # a: 2/10 = 0.2, b: 1/2 = 0.5
    slots = [agent("b", load=1, max_sessions=2), agent("a", load=2, max_sessions=10)]
    assert pick_agent(slots, "least_loaded", RoundRobin()).kefu_id == "a"


def test_least_loaded_tie_goes_to_longest_idle():
    slots = [agent("a", load=1, last=300.0), agent("b", load=1, last=100.0),
             agent("c", load=1, last=200.0)]
    assert pick_agent(slots, "least_loaded", RoundRobin()).kefu_id == "b"


def test_least_loaded_skips_unavailable_even_if_emptier():
    slots = [agent("idle_away", online=False), agent("busy", load=4)]
    assert pick_agent(slots, "least_loaded", RoundRobin()).kefu_id == "busy"


# --- round_robin -----------------------------------------------------------------------

def test_round_robin_cycles_in_id_order():
    slots = [agent("c"), agent("a"), agent("b")]
    rr = RoundRobin()
    picks = [pick_agent(slots, "round_robin", rr).kefu_id for _ in range(7)]
    assert picks == ["a", "b", "c", "a", "b", "c", "a"]
    assert rr.last == "a"


def test_round_robin_ignores_load():
    slots = [agent("a", load=4), agent("b", load=0)]
    rr = RoundRobin()
    assert pick_agent(slots, "round_robin", rr).kefu_id == "a"


def test_round_robin_skips_unavailable_and_full():
    slots = [agent("a"), agent("b", load=5), agent("c", online=False), agent("d")]
    rr = RoundRobin()
    picks = [pick_agent(slots, "round_robin", rr).kefu_id for _ in range(4)]
    assert picks == ["a", "d", "a", "d"]


def test_round_robin_continues_after_cursor():
    slots = [agent("a"), agent("b"), agent("c")]
    rr = RoundRobin(last="b")
    assert pick_agent(slots, "round_robin", rr).kefu_id == "c"
    assert rr.last == "c"


def test_round_robin_cursor_on_agent_that_left():
    slots = [agent("a"), agent("c"), agent("d")]
    rr = RoundRobin(last="b")  # b is gone: continue with the next id after it
    assert pick_agent(slots, "round_robin", rr).kefu_id == "c"


def test_round_robin_wraps_after_last_id():
    slots = [agent("a"), agent("b")]
    rr = RoundRobin(last="b")
    assert pick_agent(slots, "round_robin", rr).kefu_id == "a"


def test_round_robin_none_leaves_cursor():
    rr = RoundRobin(last="b")
    assert pick_agent([agent("a", load=5)], "round_robin", rr) is None
    assert rr.last == "b"


# --- efficiency ------------------------------------------------------------------------

def test_efficiency_prefers_higher_score_over_lower_load():
    # a: load 0, satisfaction 1, 300 s → 2 + 10 - 5 = 7
    # b: load 2, no data → 10 + 6 = 16
    slots = [agent("a", sat_total=1.0, sat_count=1, resp_total=300.0, resp_count=1),
             agent("b", load=2)]
    assert pick_agent(slots, "efficiency", RoundRobin()).kefu_id == "b"


def test_efficiency_picks_best_rated():
    slots = [agent("a", load=1, sat_total=3.0, sat_count=1),
             agent("b", load=1, sat_total=5.0, sat_count=1),
             agent("c", load=1, sat_total=4.0, sat_count=1)]
    assert pick_agent(slots, "efficiency", RoundRobin()).kefu_id == "b"


def test_efficiency_skips_unavailable_high_scorer():
    slots = [agent("star", online=False), agent("ok", load=3)]
    assert pick_agent(slots, "efficiency", RoundRobin()).kefu_id == "ok"


def test_efficiency_tie_goes_to_longest_idle():
    slots = [agent("a", load=1, last=50.0), agent("b", load=1, last=10.0)]
    assert pick_agent(slots, "efficiency", RoundRobin()).kefu_id == "b"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_explanation_names_every_agent_once(strategy):
    """Why this agent (issue 14, item 5): the chosen one among the candidates with their
    scores, every other agent with why it could not take the customer."""
    slots = [agent("a", load=5), agent("b", online=False), agent("c", connections=0),
             agent("d", load=1, max_sessions=2, sat_total=9.0, sat_count=3),
             agent("e", load=0, max_sessions=4, last=5.0)]
    slots[1].status = AgentStatus.BUSY
    chosen = pick_agent(slots, strategy, RoundRobin())
    assert chosen is not None
    why = explain_pick(slots, strategy, chosen)
    assert why["by"] == "strategy" and why["strategy"] == strategy and why["rule"]
    assert why["kefu_id"] == chosen.kefu_id
    assert {s["kefu_id"]: s["reason"] for s in why["skipped"]} == {
        "a": "full", "b": "busy", "c": "offline"}
    scores = {c["kefu_id"]: c for c in why["candidates"]}
    assert set(scores) == {"d", "e"}
    assert [k for k, c in scores.items() if c["chosen"]] == [chosen.kefu_id]
    assert scores["d"]["utilization"] == 0.5 and scores["e"]["utilization"] == 0
    assert scores["d"]["efficiency_score"] == efficiency_score(slots[3]) == 11.0
    if strategy == "least_loaded":
        assert chosen.kefu_id == "e"  # the lowest utilization
    if strategy == "efficiency":
        assert chosen.kefu_id == "e"  # 2 x 5 + 10 x 1 = 20 beats 2 x 3 + 10 x 0.5 = 11


def test_the_explanation_stays_small_with_many_agents():
    slots = [agent(f"k{i:02d}", load=i % 4, max_sessions=3) for i in range(100)]
    chosen = pick_agent(slots, "least_loaded", RoundRobin())
    assert chosen is not None
    why = explain_pick(slots, "least_loaded", chosen)
    assert why["candidates"][0]["kefu_id"] == chosen.kefu_id and why["candidates"][0]["chosen"]
    assert why["candidates_total"] == 75 and len(why["candidates"]) == 20
    utilizations = [c["utilization"] for c in why["candidates"]]
    assert utilizations == sorted(utilizations)  # then the next best
    assert why["skipped_counts"] == {"full": 25} and len(why["skipped"]) == 20
