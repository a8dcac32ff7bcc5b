"""Each actor's state is declared and built by a pure function of what Redis holds
(issue 11): the session hash, the agent hash and its active set, the queue hash, the
kefu users with their figures and connections. No threads, no Redis."""

from __future__ import annotations

import orjson
import pytest

from kefu.actors.agent import AgentState
from kefu.actors.routing import QueueEntry
from kefu.actors.seats import Seats
from kefu.actors.session_state import SessionState
from kefu.actors.waiting_queue import WaitingQueue
from kefu.domain import AgentStatus, Priority, SessionStatus, User, UserType


def test_a_missing_session_hash_is_a_session_that_does_not_exist() -> None:
    st = SessionState.from_meta("k1:a", {})
    assert (st.exists, st.status, st.active, st.seq) == (False, None, False, 0)
    assert st.side_of("k1") is None and st.side_of("a") is None


def test_session_state_from_its_hash() -> None:
    st = SessionState.from_meta("k1:a", {
        "kehu_id": "k1", "kefu_id": "a", "kehu_name": "", "status": "active", "seq": "7",
        "read_kehu": "5", "read_kefu": "7", "awaiting_since": "100.5",
        "first_response_time": "", "resp_total": "12.5", "resp_count": "2",
        "generation": "3"})
    assert st.exists and st.status is SessionStatus.ACTIVE and st.active
    assert (st.kehu_name, st.seq, st.read, st.generation) == ("k1", 7, {"kehu": 5, "kefu": 7}, 3)
    assert (st.awaiting_since, st.first_response, st.resp_total, st.resp_count) == (
        100.5, None, 12.5, 2)
    assert (st.side_of("k1"), st.side_of("a"), st.side_of("b")) == ("kehu", "kefu", None)
    ended = SessionState.from_meta("k1:a", {"kehu_id": "k1", "status": "transferred"})
    assert ended.status is SessionStatus.TRANSFERRED and not ended.active
    assert SessionState.from_meta("k1:a", {"kehu_id": "k1", "status": "??"}).status is None


def test_the_first_answer_sets_the_response_figures() -> None:
    st = SessionState.from_meta("k1:a", {"kehu_id": "k1", "kefu_id": "a", "status": "active",
                                         "awaiting_since": "100"})
    meta, response_s = st.answered(112.0)
    assert response_s == 12.0 and (st.first_response, st.resp_total, st.resp_count) == (
        12.0, 12.0, 1)
    assert meta == ["first_response_time", 12.0, "awaiting_since", "", "resp_total", 12.0,
                    "resp_count", 1]
    assert st.answered(130.0) == ([], None)  # nobody waits now: nothing to answer


def test_agent_state_keeps_its_own_sessions_and_a_valid_focus() -> None:
    st = AgentState.from_snapshot("a", {"focus": "k2"}, {"k1:a", "k2:a", "k3:b", "bad"})
    assert st.customers == {"k1": "k1:a", "k2": "k2:a"} and st.focus == "k2"
    assert AgentState.from_snapshot("a", {"focus": "k9"}, {"k1:a"}).focus is None


def test_the_queue_from_its_hash_in_order() -> None:
    raw = {"low": orjson.dumps({"name": "L", "priority": "low", "since": 1}).decode(),
           "high": orjson.dumps({"name": "H", "priority": "high", "since": 3}).decode(),
           "back": orjson.dumps({"name": "B", "priority": "normal", "since": 9,
                                 "front": True}).decode()}
    q = WaitingQueue.from_snapshot(raw, {"high"})
    assert [e.kehu_id for e in q.ordered()] == ["back", "high", "low"]
    assert q.head() == q.entries["back"] and q.online == {"high"}
    view = q.waiting_view(10.0)
    assert [(w["customer_id"], w["status"], w["position"]) for w in view["waiting_customers"]] \
        == [("back", "Offline", 1), ("high", "Online", 2), ("low", "Offline", 3)]


def test_queue_positions_are_pushed_only_when_they_change() -> None:
    q = WaitingQueue.from_snapshot({}, set())
    q.requeued(QueueEntry(kehu_id="k1", kehu_name="k1", priority=Priority.NORMAL,
                          waiting_since=1.0))
    five = lambda _team: 5  # noqa: E731
    first = q.positions(seats=five, avg_session_seconds=300)
    assert [k for k, _ in first] == ["k1"]
    assert orjson.loads(first[0][1])["position"] == 1
    assert q.positions(seats=five, avg_session_seconds=300) == []  # nothing changed
    assert [k for k, _ in q.positions(five, 300, only="k1")] == ["k1"]  # asked for: again
    q.taken("k1")
    assert q.positions(five, 300) == [] and "k1" not in q


def test_positions_count_the_same_team_only_and_estimate_with_its_seats() -> None:
    q = WaitingQueue.from_snapshot({}, set())
    for i, team in enumerate(["a", "b", None, "a", "b"]):
        q.requeued(QueueEntry(kehu_id=f"k{i}", kehu_name=f"k{i}", waiting_since=float(i),
                              team=team))
    seats = {"a": 1, "b": 4, None: 2}
    frames = {k: orjson.loads(f) for k, f in q.positions(seats.__getitem__, 100)}
    assert {k: f["position"] for k, f in frames.items()} == {
        "k0": 1, "k1": 1, "k2": 1, "k3": 2, "k4": 2}
    # ⌈position × 100 ÷ the team's seats⌉
    assert {k: f["estimated_wait_seconds"] for k, f in frames.items()} == {
        "k0": 100, "k1": 25, "k2": 50, "k3": 200, "k4": 50}


@pytest.mark.parametrize("live", [0, 2])
def test_seats_from_users_figures_connections_and_assignments(live: int) -> None:
    users = [User(id="a", name="A", user_type=UserType.KEFU, status=AgentStatus.ONLINE,
                  max_sessions=2, created_at="t"),
             User(id="b", name="B", user_type=UserType.KEFU, created_at="t")]
    seats = Seats.from_snapshot(users, {"a": {"rt": 30.0, "rc": 3, "st": 9.0, "sc": 2}},
                                {"a": live}, {"k1": "k1:a", "k2": "k2:b", "k3": "k3:zz"},
                                at=50.0)
    a, b = seats.agents["a"], seats.agents["b"]
    assert a.active == {"k1:a"} and b.active == {"k2:b"}
    assert (a.avg_response, a.satisfaction) == (10.0, 4.5)
    assert a.connections == live and a.disconnected_at == (None if live else 50.0)
    assert seats.online_capacity() == (2 if live else 0)
    assert (seats.pick("least_loaded") is a) == bool(live)  # b is offline
    seats.released("k1:a")
    assert a.active == set()
    assert seats.state_view()["a"]["totals"] == [30.0, 3, 9.0, 2]
