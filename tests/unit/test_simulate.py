"""``kefu simulate`` (issue 14, item 7): the real routing policy on a virtual clock."""

from __future__ import annotations

import math

from kefu.domain import Priority
from kefu.simulate import (
    Agent,
    Arrival,
    build_parser,
    main,
    simulate,
    synthetic_team,
    synthetic_trace,
)


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
    bad = build_parser().parse_args(["--strategies", "fastest"])
    assert main(bad) == 2
