"""Analytics (seed 5.1–5.4) equal what the test sent: counts by side and content type per
range, day and hour, sessions, users by type, responses, ratings and live figures.

The module has its own server, so every figure comes from this module's traffic.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.helpers import WS, Api, ServerProcess, open_pair

PAIRS, ROUNDS, KEHU_PER_ROUND, KEFU_PER_ROUND = 2, 15, 3, 2
COUNT_FIELDS = ("messages", "kefu_messages", "kehu_messages", "responses")


def send(ws: WS, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for f in frames:
        ws.send(type="message", **f)
    return [ws.expect("ack")["message"] for _ in frames]


class Traffic:
    def __init__(self) -> None:
        self.kefu: list[tuple[str, Api, WS]] = []
        self.kehu: list[tuple[str, Api, WS]] = []
        self.sids: list[str] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (side, stored message)

    def expected(self) -> dict[str, Any]:
        by_type = Counter(m["content_type"] for _, m in self.sent)
        sides = Counter(side for side, _ in self.sent)
        return {"messages": len(self.sent), "kefu_messages": sides["kefu"],
                "kehu_messages": sides["kehu"], "by_type": dict(sorted(by_type.items())),
                "responses": PAIRS * ROUNDS}


@pytest.fixture(scope="module")
def traffic(server: ServerProcess) -> Any:
    admin = Api.login(server.base, "admin", "admin-pass")
    t = Traffic()
    for _ in range(PAIRS):
        p = open_pair(server, admin)
        t.kefu.append((p.kefu_id, p.kefu, p.k))
        t.kehu.append((p.kehu_id, p.kehu, p.c))
        t.sids.append(p.sid)
    for r in range(ROUNDS):  # each round: a kehu turn, then the kefu's answer
        for p in range(PAIRS):
            c, k = t.kehu[p][2], t.kefu[p][2]
            frames = [{"client_msg_id": f"c{r}.{j}", "content": f"问题 {r}.{j}",
                       "content_type": "Image" if j == 2 and r % 2 == 0 else "Text",
                       "url": "https://img.example/x.png" if j == 2 and r % 2 == 0 else None}
                      for j in range(KEHU_PER_ROUND)]
            t.sent += [("kehu", m) for m in send(c, frames)]
            frames = [{"client_msg_id": f"k{r}.{j}", "content": f"回答 {r}.{j}",
                       "session_id": t.sids[p],
                       "content_type": "File" if j == 1 and r % 3 == 0 else "Text"}
                      for j in range(KEFU_PER_ROUND)]
            t.sent += [("kefu", m) for m in send(k, frames)]
    # the first session ends and its kehu rates it 4
    kefu_api, kehu_ws = t.kefu[0][1], t.kehu[0][2]
    kefu_api.ok("POST", f"/api/sessions/{t.sids[0]}/end")
    kehu_ws.expect("session_ended")
    kehu_ws.send(type="rate", session_id=t.sids[0], score=4, comment="好")
    kehu_ws.expect("rated")
    yield t
    for _, _, ws in t.kefu + t.kehu:
        ws.close()


def counts(bucket: dict[str, Any]) -> dict[str, Any]:
    return {f: bucket[f] for f in (*COUNT_FIELDS, "by_type")}


def summed(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {f: sum(b[f] for b in buckets) for f in COUNT_FIELDS}
    types: Counter[str] = Counter()
    for b in buckets:
        types.update(b["by_type"])
    out["by_type"] = dict(sorted((k, v) for k, v in types.items() if v))
    return out


def test_message_statistics_equal_the_traffic(admin: Api, traffic: Traffic) -> None:
    want = traffic.expected()
    data = admin.ok("GET", "/api/analytics/messages")
    assert counts(data["totals"]) == want
    assert len(data["daily"]) == 7 and data["daily"][-1]["date"] == data["end_date"][:10]
    assert summed(data["daily"]) == want
    assert data["hourly"] is not None and summed(data["hourly"]) == want
    assert all(h["hour"].endswith(":00:00Z") for h in data["hourly"])
    assert data["totals"]["avg_response_time_seconds"] >= 0
    # a range given as datetimes resolves to whole hours: first to last message
    stamps = sorted(m["timestamp"] for _, m in traffic.sent)
    tight = admin.ok("GET", "/api/analytics/messages",
                     params={"start_date": stamps[0], "end_date": stamps[-1]})
    assert counts(tight["totals"]) == want
    past = admin.ok("GET", "/api/analytics/messages",
                    params={"start_date": "2024-01-01", "end_date": "2024-01-07"})
    assert past["totals"]["messages"] == 0 and len(past["daily"]) == 7
    assert len(past["hourly"]) == 7 * 24 and past["end_date"] == "2024-01-07T23:59:59Z"
    long = admin.ok("GET", "/api/analytics/messages",
                    params={"start_date": "2024-01-01", "end_date": "2024-03-01"})
    assert long["hourly"] is None and len(long["daily"]) == 61


def test_overview(admin: Api, traffic: Traffic) -> None:
    want = traffic.expected()
    data = admin.ok("GET", "/api/analytics/overview")
    assert (data["total_messages"], data["kefu_messages"], data["kehu_messages"]) == (
        want["messages"], want["kefu_messages"], want["kehu_messages"])
    assert data["messages_by_type"] == want["by_type"]
    daily = admin.ok("GET", "/api/analytics/messages")["daily"]
    assert data["messages_today"] == daily[-1]["messages"]
    assert data["total_sessions"] == PAIRS and data["sessions_today"] <= PAIRS
    assert data["total_users"] == 1 + 2 * PAIRS
    assert (data["total_kefu"], data["online_kefu"], data["online_kehu"]) == (PAIRS, PAIRS, PAIRS)
    assert (data["waiting_customers"], data["active_sessions"]) == (0, PAIRS - 1)
    assert data["avg_response_time_seconds"] >= 0
    assert data["start_date"].endswith("T00:00:00Z")


def test_users(admin: Api, traffic: Traffic) -> None:
    data = admin.ok("GET", "/api/analytics/users")
    assert data["total_users"] == 1 + 2 * PAIRS
    assert data["by_type"] == {"admin": 1, "kefu": PAIRS, "kehu": PAIRS}
    assert data["new_users"] == 1 + 2 * PAIRS and data["new_by_type"] == data["by_type"]
    assert data["kefu_by_status"] == {"online": PAIRS, "away": 0, "busy": 0, "offline": 0}
    assert (data["kefu_online"], data["kehu_online"]) == (PAIRS, PAIRS)
    assert (data["kehu_active"], data["kehu_waiting"]) == (PAIRS - 1, 0)
    old = admin.ok("GET", "/api/analytics/users", params={"end_date": "2024-01-07"})
    assert old["new_users"] == 0 and old["total_users"] == 1 + 2 * PAIRS


def test_performance(admin: Api, traffic: Traffic) -> None:
    data = admin.ok("GET", "/api/analytics/performance")
    assert data["responses"] == PAIRS * ROUNDS and data["sessions_created"] == PAIRS
    assert (data["avg_satisfaction"], data["rated_sessions"]) == (4.0, 1)
    agents = {a["kefu_id"]: a for a in data["agents"]}
    assert set(agents) == {k for k, _, _ in traffic.kefu}
    first, second = agents[traffic.kefu[0][0]], agents[traffic.kefu[1][0]]
    assert (first["satisfaction"], first["ratings"]) == (4.0, 1)
    assert (second["satisfaction"], second["ratings"]) == (None, 0)
    assert first["responses"] == second["responses"] == ROUNDS
    assert (first["active_sessions"], second["active_sessions"]) == (0, 1)
    assert (first["utilization_rate"], second["utilization_rate"]) == (0.0, 20.0)
    assert data["avg_utilization_rate"] == 10.0
    assert all(a["status"] == "online" and a["max_sessions"] == 5 for a in agents.values())
    weighted = sum(a["avg_response_time_seconds"] * a["responses"] for a in agents.values())
    assert abs(data["avg_response_time_seconds"] - weighted / (PAIRS * ROUNDS)) <= 0.15


@pytest.mark.parametrize("params", [{"start_date": "2020-01-01", "end_date": "2024-01-01"},
                                    {"start_date": "soon"}, {"end_date": "2024-13-01"},
                                    {"start_date": "2024-02-01", "end_date": "2024-01-01"}])
def test_bad_ranges_are_400(admin: Api, traffic: Traffic, params: dict[str, str]) -> None:
    for name in ("overview", "messages", "users", "performance"):
        r = admin.call("GET", f"/api/analytics/{name}", params=params)
        assert r.status_code == 400 and r.json()["details"], (name, params)


def test_admin_only(server: ServerProcess, admin: Api, traffic: Traffic) -> None:
    kefu_api, kehu_api = traffic.kefu[1][1], traffic.kehu[1][1]
    for name, key in (("overview", "获取概览统计成功"), ("messages", "获取消息统计成功"),
                      ("users", "获取用户统计成功"), ("performance", "获取性能统计成功")):
        path = f"/api/analytics/{name}"
        assert Api(server.base).call("GET", path).status_code == 401
        assert kefu_api.call("GET", path).status_code == 403
        assert kehu_api.call("GET", path).status_code == 403
        assert admin.call("GET", path).json()["message"] == key
        en = admin.call("GET", path, headers={"Accept-Language": "en"}).json()["message"]
        assert en.endswith("statistics")
