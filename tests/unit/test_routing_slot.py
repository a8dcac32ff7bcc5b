"""AgentSlot properties and efficiency_score (kefu/actors/routing.py)."""

from __future__ import annotations

import pytest

from kefu.actors.routing import AgentSlot, efficiency_score
from kefu.domain import AgentStatus


def slot(load: int = 0, max_sessions: int = 5, status: AgentStatus = AgentStatus.ONLINE,
         connections: int = 1, **kw) -> AgentSlot:
    return AgentSlot("k1", "Agent", max_sessions=max_sessions, status=status,
                     connections=connections, active={f"s{i}" for i in range(load)}, **kw)


def test_available_when_online_connected_and_with_room():
    assert slot(load=4).available


@pytest.mark.parametrize("status", [AgentStatus.AWAY, AgentStatus.BUSY, AgentStatus.OFFLINE])
def test_not_available_unless_status_online(status):
    assert not slot(status=status).available


def test_not_available_without_connections():
    s = slot(connections=0)
    assert not s.online
    assert not s.available


def test_not_available_when_full():
    s = slot(load=5)
    assert s.online
    assert not s.has_room
    assert not s.available


def test_not_available_when_over_capacity_after_forced_assign():
    assert not slot(load=6).available


def test_load_counts_active_sessions():
    assert slot(load=3).load == 3


@pytest.mark.parametrize(("load", "cap", "expected"), [
    (0, 5, 0.0), (3, 5, 0.6), (5, 5, 1.0), (6, 5, 1.2), (1, 4, 0.25),
])
def test_utilization(load, cap, expected):
    assert slot(load=load, max_sessions=cap).utilization == pytest.approx(expected)


def test_utilization_of_zero_capacity_is_full():
    s = slot(max_sessions=0)
    assert s.utilization == 1.0
    assert not s.available


def test_effective_status_offline_without_connections():
    assert slot(status=AgentStatus.ONLINE, connections=0).effective_status is AgentStatus.OFFLINE
    assert slot(status=AgentStatus.AWAY, connections=0).effective_status is AgentStatus.OFFLINE


@pytest.mark.parametrize("status", [AgentStatus.ONLINE, AgentStatus.AWAY, AgentStatus.BUSY])
def test_effective_status_is_status_while_connected(status):
    assert slot(status=status, connections=2).effective_status is status


def test_averages_none_without_data():
    s = slot()
    assert s.avg_response is None
    assert s.satisfaction is None


def test_averages_from_totals():
    s = slot(resp_total=90.0, resp_count=3, sat_total=9.0, sat_count=2)
    assert s.avg_response == pytest.approx(30.0)
    assert s.satisfaction == pytest.approx(4.5)


# --- efficiency_score: 2*sat + 10*(1 - min(util, 1)) - min(avg_resp, 300)/60 -------------

def test_efficiency_seed_example():
    assert efficiency_score(slot(load=3)) == 14.0


def test_efficiency_idle_agent_without_data():
    assert efficiency_score(slot(load=0)) == 20.0


def test_efficiency_full_agent_without_data():
    assert efficiency_score(slot(load=5)) == 10.0


def test_efficiency_utilization_capped_at_one():
    assert efficiency_score(slot(load=7)) == 10.0


def test_efficiency_lower_ratings_lower_it():
    rated = slot(load=3, sat_total=6.0, sat_count=2)  # satisfaction 3.0
    assert efficiency_score(rated) == 10.0
    assert efficiency_score(rated) < efficiency_score(slot(load=3))


def test_efficiency_response_time_lowers_it():
    s = slot(load=3, resp_total=240.0, resp_count=2)  # 120 s average → −2
    assert efficiency_score(s) == 12.0


def test_efficiency_response_penalty_capped_at_300_seconds():
    s = slot(load=3, resp_total=3600.0, resp_count=1)  # capped at 300 s → −5
    assert efficiency_score(s) == 9.0


def test_efficiency_rounded_to_one_decimal():
    s = slot(load=3, resp_total=10.0, resp_count=1)  # 14 − 1/6 = 13.8333…
    assert efficiency_score(s) == 13.8


def test_efficiency_combined():
    s = slot(load=1, sat_total=4.0, sat_count=1, resp_total=30.0, resp_count=1)
    # 2*4 + 10*0.8 - 0.5
    assert efficiency_score(s) == 15.5
