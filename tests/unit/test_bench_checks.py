"""Pure parts of the burst, connections and history scenarios: the assignment checks, the
arrival schedule, the completion curve, RSS per socket, and the history data plan.
No servers, no timing assertions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kefu.bench.checks import arrival_schedule, assignment_checks, completion_curve
from kefu.bench.connections import per_socket_kib
from kefu.bench.history_data import (
    COMMON,
    PER_SESSION,
    RARE,
    SessionSpec,
    content_of,
    messages_of,
    plan,
)


def _rest(*sids: str) -> list[dict[str, str]]:
    return [{"session_id": s, "kehu_id": s.split(":")[0], "kefu_id": s.split(":")[1]}
            for s in sids]


def test_a_clean_burst_passes() -> None:
    guests = {"g1": ["g1:a1"], "g2": ["g2:a1"], "g3": ["g3:a2"]}
    agents = {"a1": ["g1:a1", "g2:a1"], "a2": ["g3:a2"]}
    c = assignment_checks(guests, agents, 2, _rest("g1:a1", "g2:a1", "g3:a2"))
    assert c["ok"]
    assert (c["assigned"], c["unassigned"], c["assigned_twice"]) == (3, 0, 0)
    assert c["max_agent_load"] == 2 and c["rest_max_agent_load"] == 2
    assert c["examples"] == {}


def test_twice_unassigned_and_over_capacity_are_caught() -> None:
    guests = {"g1": ["g1:a1", "g1:a2"], "g2": [], "g3": ["g3:a1"], "g4": ["g4:a1"]}
    agents = {"a1": ["g1:a1", "g3:a1", "g4:a1"], "a2": ["g1:a2"]}
    c = assignment_checks(guests, agents, 2, _rest("g1:a1", "g3:a1", "g4:a1"))
    assert not c["ok"]
    assert c["assigned_twice"] == 1 and c["examples"]["twice"] == ["g1"]
    assert c["unassigned"] == 1 and c["examples"]["unassigned"] == ["g2"]
    assert c["agents_over_capacity"] == 1 and c["examples"]["over_capacity"] == ["a1"]
    assert c["rest_agents_over_capacity"] == 1


def test_the_rest_listing_is_cross_checked() -> None:
    guests = {"g1": ["g1:a1"], "g2": ["g2:a1"]}
    agents = {"a1": ["g1:a1", "g2:a1"]}
    # REST shows a session no client heard of, and misses one they did; a guest twice
    c = assignment_checks(guests, agents, 5, _rest("g1:a1", "g9:a1", "g1:a2"))
    assert not c["ok"]
    assert c["ws_not_in_rest"] == 1 and c["examples"]["ws_not_in_rest"] == ["g2:a1"]
    assert c["rest_not_in_ws"] == 2
    assert c["rest_guests_twice"] == 1 and c["examples"]["rest_twice"] == ["g1"]


def test_agent_view_must_match_guest_view() -> None:
    # the guest was told a1, but a1 never got the frame (a2 got one naming a1's session)
    c = assignment_checks({"g1": ["g1:a1"]}, {"a1": [], "a2": ["g1:a1"]}, 5,
                          _rest("g1:a1"))
    assert not c["ok"]
    assert c["sessions_wrong_agent"] == 1
    c = assignment_checks({"g1": ["g1:a1"]}, {"a1": ["g1:a1", "g1:a1"]}, 5, _rest("g1:a1"))
    assert c["agents_repeated_frames"] == 1 and not c["ok"]


def test_arrivals_evenly_spaced_within_the_window() -> None:
    xs = arrival_schedule(4, 1.0)
    assert xs == [0.0, 0.25, 0.5, 0.75]
    assert arrival_schedule(0, 1.0) == []
    assert all(0 <= x < 1.0 for x in arrival_schedule(1000, 1.0))


def test_completion_curve_is_monotone_and_ends_at_the_total() -> None:
    offsets = [0.5, 0.1, 0.3, 0.2, 0.9]
    curve = completion_curve(offsets, points=2)
    assert curve[0] == (0.1, 1)
    assert curve[-1] == (0.9, 5)
    assert [n for _, n in curve] == sorted(n for _, n in curve)
    assert completion_curve([]) == []


def test_rss_per_socket() -> None:
    assert per_socket_kib({"rss_kib": 1000}, {"rss_kib": 3000}, 100) == 20.0
    assert per_socket_kib({"rss_kib": 1000}, {"rss_kib": 3000}, 0) is None


def test_history_plan_covers_exactly_the_requested_messages() -> None:
    specs = plan(total=1050, end=1_000_000.0, skip=200)
    assert sum(s.messages for s in specs) == 850
    assert specs[0].first_index == 200
    for a, b in zip(specs, specs[1:], strict=False):
        assert b.first_index == a.first_index + a.messages
    assert all(s.messages <= PER_SESSION for s in specs)
    assert len({s.sid for s in specs}) == len(specs)
    assert all(s.start + s.messages * 20 <= 1_000_000.0 for s in specs)
    assert plan(total=100, end=0.0, skip=100) == []


def test_history_messages_alternate_and_number_from_one() -> None:
    s = SessionSpec("k:f", "k", "f", 1000.0, 5, 0)
    msgs = list(messages_of(s))
    assert [m["seq"] for m in msgs] == [1, 2, 3, 4, 5]
    assert [m["from"] for m in msgs] == ["k", "f", "k", "f", "k"]
    assert all(m["session_id"] == "k:f" for m in msgs)
    assert len({m["id"] for m in msgs}) == 5


def test_history_content_is_deterministic_with_the_documented_rates() -> None:
    assert content_of(12345) == content_of(12345)
    sample = [content_of(i) for i in range(20_000)]
    rare = sum(RARE in c for c, _ in sample)
    common = sum(COMMON in c for c, _ in sample)
    images = sum(kind == "Image" for _, kind in sample)
    assert rare == 2  # exactly one in 10,000
    assert 100 <= common <= 300  # about one in 100
    assert images == 200


def test_recovery_log_marks_read_only_the_new_start_up(tmp_path: Path) -> None:
    from kefu.bench.recovery import log_marks  # noqa: PLC0415

    log = tmp_path / "server.log"
    old = "2026-01-01 00:00:00,000 INFO kefu.persistence.embedded: embedded redis-server 1 on x\n"
    log.write_text(old)
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write("2026-01-01 00:01:00,250 INFO kefu.persistence.embedded: embedded redis-server "
                "2 on x\nnoise without a date\n"
                "2026-01-01 00:01:01,500 INFO kefu.events: server started {'port': 1}\n")
    spawned = datetime(2026, 1, 1, 0, 1, 0).timestamp()
    assert log_marks(log, offset, spawned) == {"redis_ready_s": 0.25, "server_started_s": 1.5}
