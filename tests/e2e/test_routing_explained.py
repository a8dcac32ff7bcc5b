"""Why this agent (issue 14, item 5): every assignment stores its explanation with the
session — the strategy, every candidate with its score, every other agent with why it was
skipped — and ``GET /api/sessions/{id}/routing`` shows it to admins and the session's
agent (never to the customer: other agents' loads)."""

from __future__ import annotations

from typing import Any

from tests.helpers import WS, Api, ServerProcess


def routing(api: Api, sid: str) -> dict[str, Any]:
    data = api.ok("GET", f"/api/sessions/{sid}/routing")
    assert data["session_id"] == sid
    return data["routing"]


def test_every_assignment_says_why_this_agent(fresh_server: ServerProcess) -> None:
    srv = fresh_server
    admin = Api.login(srv.base, "admin", "admin-pass")
    small_id, small = admin.create_kefu(max_sessions=1)
    big_id, big = admin.create_kefu(max_sessions=3)
    away_id, _away = admin.create_kefu(max_sessions=2)  # never connects: offline
    sockets = [WS(srv.ws_url, api.token) for api in (small, big)]
    for ws in sockets:
        ws.expect("hello")
    guests = [admin.guest(f"客户{i}") for i in range(3)]
    sids = []
    for kehu_id, api in guests:
        ws = WS(srv.ws_url, api.token)
        sockets.append(ws)
        ws.expect("hello")
        ws.send(type="request_service")
        sids.append(ws.expect("assigned")["session"]["session_id"])
        assert sids[-1].startswith(kehu_id + ":")
    try:
        first = routing(admin, sids[0])
        assert first["by"] == "strategy" and first["strategy"] == "least_loaded"
        assert first["kefu_id"] == sids[0].split(":")[1] and first["at"]
        both = {c["kefu_id"]: c for c in first["candidates"]}
        assert set(both) == {small_id, big_id}  # both empty: the tie goes by id
        assert [c["kefu_id"] for c in first["candidates"] if c["chosen"]] == [first["kefu_id"]]
        assert all(c["load"] == 0 and c["utilization"] == 0 for c in both.values())
        assert {"kefu_id": away_id, "reason": "offline", "load": 0,
                "max_sessions": 2} in first["skipped"]

        # the one-seat agent is full by the third customer at the latest: skipped as full
        third = routing(admin, sids[2])
        assert third["kefu_id"] == big_id
        assert {s["kefu_id"]: s["reason"] for s in third["skipped"]} == {
            small_id: "full", away_id: "offline"}
        assert [c["kefu_id"] for c in third["candidates"]] == [big_id]
        assert third["candidates_total"] == 1
        assert third["skipped_counts"] == {"full": 1, "offline": 1}

        # the session's agent may read it; the customer may not (other agents' loads)
        kefu_api = small if sids[0].endswith(small_id) else big
        assert routing(kefu_api, sids[0]) == first
        assert guests[0][1].call("GET", f"/api/sessions/{sids[0]}/routing").status_code == 403

        # an admin's choice says so
        kehu_id, kehu = admin.guest("指定客户")
        ws = WS(srv.ws_url, kehu.token)
        sockets.append(ws)
        ws.expect("hello")
        assigned = admin.ok("POST", f"/api/customer/{kehu_id}/assign",
                            {"kefu_id": big_id, "force": True})
        chosen = routing(admin, assigned["session_id"])
        assert chosen["by"] == "admin" and chosen["kefu_id"] == big_id
        assert chosen["forced"] is True and chosen["max_sessions"] == 3
    finally:
        for ws in sockets:
            ws.close()
