"""``kefu simulate`` (issue 14, item 7): the real routing policy on a virtual clock."""

from __future__ import annotations

import math
from pathlib import Path

import orjson

from kefu.domain import Priority
from kefu.persistence.keys import Keys
from kefu.simulate import (
    Agent,
    Arrival,
    OfferModel,
    build_parser,
    main,
    simulate,
    synthetic_team,
    synthetic_trace,
)
from kefu.simulate_traces import recorded_trace
from kefu.testing.processes import RedisProcess


def test_one_seat_serves_in_the_queue_order_with_aging() -> None:
    team = [Agent("a", seats=1, speed=1.0, satisfaction=5.0)]
    trace = [Arrival(0.0, "first", Priority.NORMAL, work=1000.0, patience=1e9),
             Arrival(10.0, "low", Priority.LOW, work=5.0, patience=1e9),
             Arrival(20.0, "high_soon", Priority.HIGH, work=5.0, patience=1e9),
             Arrival(700.0, "high_late", Priority.HIGH, work=5.0, patience=1e9),
             Arrival(30.0, "gives_up", Priority.NORMAL, work=5.0, patience=100.0)]
    trace.sort(key=lambda a: a.at)
    aged = simulate(trace, team, "least_loaded", head_start=300.0)
    # the low one waited more than 2 x 300 s longer than high_late: it goes first
    assert aged.order == ["first", "high_soon", "low", "high_late"]
    assert aged.served == 4 and aged.abandoned == 1
    assert aged.waits == [0.0, 980.0, 995.0, 310.0]
    strict = simulate(trace, team, "least_loaded", head_start=math.inf)
    assert strict.order == ["first", "high_soon", "high_late", "low"]
    assert aged.peak_load == strict.peak_load == 1


def test_a_day_of_a_team_keeps_every_customer_and_every_limit() -> None:
    trace = synthetic_trace(seed=3, hours=2.0, per_hour=1300.0, mean_work=480.0,
                            mean_patience=300.0)
    assert trace == synthetic_trace(seed=3, hours=2.0, per_hour=1300.0, mean_work=480.0,
                                    mean_patience=300.0)  # seeded: the same trace
    assert 2300 < len(trace) < 2900
    team = synthetic_team(seed=3, agents=50, seats=3)
    results = {s: simulate(trace, team, s) for s in ("least_loaded", "round_robin",
                                                       "efficiency")}
    for out in results.values():
        assert out.served + out.abandoned == len(trace)  # nobody lost, nobody twice
        assert len(set(out.order)) == out.served == len(out.waits)
        assert out.peak_load <= 3  # no agent over its seats
        assert sum(out.handled.values()) == out.served
        assert 0 < out.utilization <= 1 and 0 < out.fairness <= 1
        assert out.percentile(50) <= out.percentile(90) <= out.percentile(99) <= max(out.waits)
    # efficiency gives more chats to the agents customers rate higher
    best = max(team, key=lambda a: a.satisfaction).kefu_id
    worst = min(team, key=lambda a: a.satisfaction).kefu_id
    eff = results["efficiency"].handled
    assert eff[best] > eff[worst]


def test_the_command_prints_a_table_per_strategy(capsys) -> None:
    args = build_parser().parse_args(["--agents", "5", "--hours", "1", "--per-hour", "100"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| least_loaded |" in out and "| round_robin |" in out and "| efficiency |" in out
    assert "| offer |" in out and "offers," in out
    bad = build_parser().parse_args(["--strategies", "fastest"])
    assert main(bad) == 2


def test_offer_mode_holds_seats_waits_for_answers_and_sets_missers_away() -> None:
    team = [Agent("a", seats=1, speed=1.0, satisfaction=5.0),
            Agent("b", seats=1, speed=1.0, satisfaction=5.0)]
    trace = [Arrival(0.0, "k1", Priority.NORMAL, work=100.0, patience=1e9)]
    sure = simulate(trace, team, "offer", offers=OfferModel(delay=4.0, miss=0.0))
    assert sure.served == 1 and sure.offers == 1 and sure.expired == 0
    assert 0 < sure.waits[0] <= 20.0  # it waited for the agent's answer
    # nobody ever answers: each offer expires after 20 s, the customer passes from one
    # agent to the other, each is set away after 2 misses, and the customer gives up
    never = simulate([Arrival(0.0, "k1", Priority.NORMAL, 100.0, patience=70.0)], team,
                     "offer", offers=OfferModel(miss=1.0, seconds=20.0, misses_away=2))
    assert never.served == 0 and never.abandoned == 1
    assert never.offers == 4 and never.expired == 3 and never.set_away == 1
    day = synthetic_trace(seed=5, hours=1.0, per_hour=1000.0, mean_work=480.0,
                          mean_patience=300.0)
    crew = synthetic_team(seed=5, agents=40, seats=3)
    out = simulate(day, crew, "offer")
    assert out.served + out.abandoned == len(day) and out.peak_load <= 3
    assert out.offers >= out.served and out.expired > 0
    assert out.percentile(50) > simulate(day, crew, "least_loaded").percentile(50)


def test_a_recorded_trace_is_read_from_redis(tmp_path: Path) -> None:
    rs = RedisProcess(tmp_path / "r").start()
    try:
        r = rs.client(decode_responses=True)
        k = Keys()
        for i, (opened, ended, waited, came_from) in enumerate(
                [(1000.0, 1300.0, 12.5, ""), (1100.0, None, 0.0, ""),
                 (1200.0, 1250.0, 0.0, "x:y")]):  # the third continues a transfer
            sid = f"k{i}:a"
            r.zadd(k.sessions, {sid: opened})
            r.hset(k.session(sid), mapping={"opened_at": opened, "kehu_id": f"k{i}",
                                            "transferred_from": came_from,
                                            "routing": orjson.dumps(
                                                {"waited_seconds": waited}).decode(),
                                            **({"ended_at": ended} if ended else {})})
        r.zadd(k.users, {"a": 1, "k0": 2})
        r.hset(k.user("a"), mapping={"user_type": "kefu", "max_sessions": 4})
        r.hset(k.user("k0"), mapping={"user_type": "kehu"})
        r.hset(k.agent_figures, mapping={"a|st": 9, "a|sc": 2})
        trace, team = recorded_trace(r, k, mean_patience=300.0, seed=1)
        assert [(round(t.at, 1), round(t.work) if t.kehu_id.startswith("k0") else None)
                for t in trace] == [(0.0, 300), (112.5, None)]
        assert team == [Agent("a", 4, 1.0, 4.5)]
        assert simulate(trace, team, "least_loaded").served == 2
    finally:
        rs.stop()
