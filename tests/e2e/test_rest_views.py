"""Listings and agent views against the real server: the session list (seed 1.1), a kefu's
customers (2.1), its workload (2.2) and the available agents (2.4) — contract fields,
filters, exact pagination, and who may see what."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.http.handlers.kefu_views import AvailableOut, CustomersOut, WorkloadOut
from kefu.http.handlers.session_list import SessionListOut
from tests.contract import ISO_Z, assert_error
from tests.helpers import WS, Api, ServerProcess, connect, uid

# the seed's example objects, field by field
SESSION_FIELDS = {"session_id": str, "kefu_id": str, "kefu_name": str, "kehu_id": str,
                  "kehu_name": str, "status": str, "created_at": str, "updated_at": str,
                  "message_count": int}
PAGINATION_FIELDS = {"page", "limit", "total", "total_pages"}
CUSTOMER_FIELDS = {"id", "name", "status", "last_message", "last_activity", "unread_count"}
WORKLOAD_FIELDS = {"kefu_id": str, "kefu_name": str, "active_sessions": int,
                   "max_sessions": int, "utilization_rate": float, "status": str}
RAW_FIELDS = {"active_sessions", "max_sessions", "utilization_rate", "status"}
AVAILABLE_FIELDS = {"kefu_id", "kefu_name", "current_load", "max_capacity",
                    "efficiency_score", "last_activity"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's own server; a long grace period, so no session of an earlier test is
    requeued (and reassigned) while a later test counts sessions."""
    srv = ServerProcess(Path(tmp_path_factory.mktemp("views")),
                        KEFU_AGENT_GRACE_SECONDS="300")
    srv.start()
    yield srv
    srv.stop()



def stamp(ts: float) -> str:
    """Epoch seconds → ISO 8601 with microseconds and Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_sessions(admin: Api, kefu_id: str, n: int) -> list[str]:
    """``n`` new kehu assigned to the kefu → their session ids, oldest first."""
    sids = []
    for _ in range(n):
        kehu_id, _ = admin.guest("客户张三")
        data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
        sids.append(data["session_id"])
    return sids


def listing(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok("GET", "/api/sessions/list", params=params)


def all_pages(api: Api, limit: int, **params: Any) -> list[str]:
    first = listing(api, limit=limit, **params)
    ids = [s["session_id"] for s in first["sessions"]]
    for page in range(2, first["pagination"]["total_pages"] + 1):
        ids += [s["session_id"] for s in listing(api, limit=limit, page=page,
                                                  **params)["sessions"]]
    return ids


# --- 1.1 session list -----------------------------------------------------------------


def test_session_list_contract_and_exact_pagination(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu("客服小王", max_sessions=30)
    sids = open_sessions(admin, kefu_id, 23)
    r = admin.call("GET", "/api/sessions/list", params={"kefu_id": kefu_id})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["message"] == "获取会话列表成功"
    data = body["data"]
    SessionListOut.model_validate(data)  # as documented in the OpenAPI document
    assert set(data) == {"sessions", "pagination"}
    assert data["pagination"] == {"page": 1, "limit": 20, "total": 23, "total_pages": 2}
    assert [s["session_id"] for s in data["sessions"]] == sids[::-1][:20]  # newest first
    for s in data["sessions"]:
        for name, typ in SESSION_FIELDS.items():
            assert type(s[name]) is typ, (name, s)
        assert "last_message" in s
        assert ISO_Z.match(s["created_at"]) and ISO_Z.match(s["updated_at"])
        assert s["kefu_id"] == kefu_id and s["kefu_name"] == "客服小王"
        assert s["kehu_name"] == "客户张三" and s["status"] == "active"
        assert s["session_id"] == f"{s['kehu_id']}:{kefu_id}"
        assert s["message_count"] == 0 and s["last_message"] is None
    pages = [listing(admin, kefu_id=kefu_id, limit=10, page=p) for p in (1, 2, 3, 4)]
    for p, page in enumerate(pages, start=1):
        assert page["pagination"] == {"page": p, "limit": 10, "total": 23, "total_pages": 3}
    assert [len(p["sessions"]) for p in pages] == [10, 10, 3, 0]
    assert [s["session_id"] for p in pages for s in p["sessions"]] == sids[::-1]
    # the kefu's own view is the same list; English on request
    r = kefu.call("GET", "/api/sessions/list", params={"limit": 200},
                  headers={"Accept-Language": "en"})
    assert r.json()["message"] == "Sessions"
    assert [s["session_id"] for s in r.json()["data"]["sessions"]] == sids[::-1]


def test_session_list_status_and_date_filters(server: ServerProcess, admin: Api,
                                              sockets: list[WS]) -> None:
    t0 = time.time()
    a_id, kefu_a = admin.create_kefu(max_sessions=20)
    b_id, kefu_b = admin.create_kefu(max_sessions=20)
    connect(server, kefu_b, sockets)  # online with room: a transfer target
    first = open_sessions(admin, a_id, 6)
    for sid in first[:2]:
        admin.ok("POST", f"/api/sessions/{sid}/end")
    moved = admin.ok("POST", f"/api/sessions/{first[2]}/transfer", {"to_kefu_id": b_id})
    t_mid = time.time()
    later = open_sessions(admin, a_id, 2)

    def total(api: Api = admin, **params: Any) -> int:
        return listing(api, **params)["pagination"]["total"]

    # one kefu's index (a ZSET of its own sessions)
    assert total(kefu_id=a_id) == 8
    assert total(kefu_id=a_id, status="completed") == 2
    assert total(kefu_id=a_id, status="transferred") == 1
    assert total(kefu_id=a_id, status="active") == 5
    assert total(kefu_id=a_id, start_date=stamp(t_mid)) == 2
    assert total(kefu_id=a_id, end_date=stamp(t_mid)) == 6
    assert total(kefu_id=a_id, end_date=stamp(t_mid), status="active") == 3
    actives = all_pages(admin, 2, kefu_id=a_id, status="active")
    assert actives == later[::-1] + first[3:][::-1]
    assert [s["status"] for s in listing(admin, kefu_id=a_id, status="completed")[
        "sessions"]] == ["completed", "completed"]
    # the global index by creation time (with and without a status filter)
    since = {"start_date": stamp(t0)}
    assert total(**since) == 9  # a's 8 and the one transferred to b
    assert total(**since, status="active") == 6
    assert total(**since, status="completed") == 2
    assert total(**since, status="transferred") == 1
    assert total(**since, end_date=stamp(t_mid)) == 7
    assert total(start_date=stamp(t_mid)) == 2
    got = all_pages(admin, 4, **since)
    assert len(got) == 9 and set(got) == set(first + later + [moved["new_session_id"]])
    assert got[:2] == later[::-1]
    # whole days (UTC): today holds all of them, tomorrow and yesterday none
    today = datetime.fromtimestamp(t0, UTC).date()
    if datetime.now(UTC).date() == today:  # not across midnight
        assert total(kefu_id=a_id, start_date=str(today), end_date=str(today)) == 8
    assert total(kefu_id=a_id, start_date=str(today + timedelta(days=1))) == 0
    assert total(kefu_id=a_id, end_date=str(today - timedelta(days=1))) == 0
    assert total(end_date=str(today - timedelta(days=1))) == 0  # the global index too
    # kefu: its own only, and never another kefu's
    assert total(kefu_a) == 8
    assert total(kefu_a, kefu_id=a_id, status="transferred") == 1
    assert_error(kefu_a.call("GET", "/api/sessions/list", params={"kefu_id": b_id}), 403)
    assert total(kefu_b) == 1
    assert_error(httpx.get(f"{server.base}/api/sessions/list"), 401)


def test_session_list_for_a_kehu(server: ServerProcess, admin: Api,
                                 sockets: list[WS]) -> None:
    a_id, _ = admin.create_kefu()
    b_id, kefu_b = admin.create_kefu()
    connect(server, kefu_b, sockets)
    kehu_id, kehu = admin.guest()
    other_id, other = admin.guest()
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": a_id})["session_id"]
    admin.ok("POST", f"/api/customer/{other_id}/assign", {"kefu_id": a_id})
    new_sid = admin.ok("POST", f"/api/sessions/{sid}/transfer",
                       {"to_kefu_id": b_id})["new_session_id"]
    mine = listing(kehu)
    assert mine["pagination"]["total"] == 2
    assert [s["session_id"] for s in mine["sessions"]] == [new_sid, sid]
    assert {s["kehu_id"] for s in mine["sessions"]} == {kehu_id}
    assert [s["status"] for s in mine["sessions"]] == ["active", "transferred"]
    assert [s["session_id"] for s in listing(kehu, kefu_id=b_id)["sessions"]] == [new_sid]
    assert listing(kehu, status="transferred")["pagination"]["total"] == 1
    # another kefu's id only narrows the kehu's own sessions: nothing of anyone else
    assert listing(other, kefu_id=b_id)["pagination"]["total"] == 0
    assert [s["kehu_id"] for s in listing(other)["sessions"]] == [other_id]


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "abc"}, "limit"),
    ({"page": 0}, "page"), ({"page": -1}, "page"), ({"page": "1e9"}, "page"),
    ({"status": "open"}, "status"), ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "2024-13-01"}, "end_date"), ({"kefu_id": "a b/c"}, "kefu_id"),
    ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "start_date"),
])
def test_session_list_bad_query(server: ServerProcess, admin: Api, params: dict[str, Any],
                                field: str) -> None:
    body = assert_error(admin.call("GET", "/api/sessions/list", params=params), 400)
    assert field in body["details"], body


# --- 2.1 customers --------------------------------------------------------------------


def test_customers_contract_and_unread_counts(server: ServerProcess, admin: Api,
                                              sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu("客服小王")
    k = connect(server, kefu, sockets)
    one_id, one = admin.guest("客户张三")
    two_id, _ = admin.guest("客户李四")
    sid_two = admin.ok("POST", f"/api/customer/{two_id}/assign", {"kefu_id": kefu_id})[
        "session_id"]
    sid_one = admin.ok("POST", f"/api/customer/{one_id}/assign", {"kefu_id": kefu_id})[
        "session_id"]
    c = connect(server, one, sockets)
    for i, text in enumerate(("你好", "我想咨询一下产品信息"), start=1):
        c.send(type="message", client_msg_id=f"c{i}", content=text)
        assert c.expect("ack")["message"]["seq"] == i

    def customers(api: Api = kefu) -> dict[str, Any]:
        return api.ok("GET", f"/api/kefu/{kefu_id}/customers")

    r = kefu.call("GET", f"/api/kefu/{kefu_id}/customers")
    assert r.json()["message"] == "获取客服客户列表成功"
    data = r.json()["data"]
    CustomersOut.model_validate(data)
    assert set(data) >= {"kefu_id", "customers", "total"}
    assert data["kefu_id"] == kefu_id and data["total"] == 2
    rows = data["customers"]
    assert [row["id"] for row in rows] == [one_id, two_id]  # latest activity first
    for row in rows:
        assert set(row) >= CUSTOMER_FIELDS
        assert ISO_Z.match(row["last_activity"]) and type(row["unread_count"]) is int
    assert rows[0] | {"last_activity": None} == {
        "id": one_id, "name": "客户张三", "status": "Online",
        "last_message": "我想咨询一下产品信息", "last_activity": None, "unread_count": 2,
        "session_id": sid_one}
    assert rows[1]["name"] == "客户李四" and rows[1]["status"] == "Offline"
    assert rows[1]["unread_count"] == 0 and rows[1]["last_message"] is None
    # the kefu answers: everything before its reply counts as read
    k.send(type="message", client_msg_id="k1", content="好的", session_id=sid_one)
    assert k.expect("ack")["message"]["seq"] == 3
    assert customers()["customers"][0]["unread_count"] == 0
    c.send(type="message", client_msg_id="c3", content="还有一个问题")
    c.expect("ack")
    row = customers()["customers"][0]
    assert row["unread_count"] == 1 and row["last_message"] == "还有一个问题"
    # an explicit read mark
    k.send(type="read", session_id=sid_one, seq=4)
    assert c.expect("read")["seq"] == 4
    assert customers(admin)["customers"][0]["unread_count"] == 0
    # an ended session is no longer a current customer
    admin.ok("POST", f"/api/sessions/{sid_two}/end")
    assert [row["id"] for row in customers()["customers"]] == [one_id]
    assert customers()["total"] == 1


def test_customers_roles(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    _, other = admin.create_kefu()
    kehu_id, kehu = admin.guest()
    admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert admin.ok("GET", f"/api/kefu/{kefu_id}/customers")["total"] == 1
    assert kefu.ok("GET", f"/api/kefu/{kefu_id}/customers")["total"] == 1
    assert_error(other.call("GET", f"/api/kefu/{kefu_id}/customers"), 403)
    assert_error(kehu.call("GET", f"/api/kefu/{kefu_id}/customers"), 403)
    assert_error(httpx.get(f"{server.base}/api/kefu/{kefu_id}/customers"), 401)
    for nobody in (uid("kefu"), kehu_id, "admin"):
        assert_error(admin.call("GET", f"/api/kefu/{nobody}/customers"), 404, "kefu_not_found")


# --- 2.2 workload and 2.4 available agents --------------------------------------------


def test_workload_contract_and_status_mapping(server: ServerProcess, admin: Api,
                                              sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu("客服小王", max_sessions=5)
    k = connect(server, kefu, sockets)
    sids = open_sessions(admin, kefu_id, 3)
    r = kefu.call("GET", f"/api/kefu/{kefu_id}/workload")
    assert r.status_code == 200 and r.json()["message"] == "获取客服工作负载成功"
    data = r.json()["data"]
    WorkloadOut.model_validate(data)
    w = data["workload"]
    for name, typ in WORKLOAD_FIELDS.items():
        assert type(w[name]) is typ, (name, w)
    assert {"avg_response_time", "satisfaction_score", "last_activity"} <= set(w)
    assert w["kefu_id"] == kefu_id and w["kefu_name"] == "客服小王"
    assert (w["active_sessions"], w["max_sessions"]) == (3, 5)
    assert w["utilization_rate"] == 60.0 and w["status"] == "available"
    assert w["avg_response_time"] is None and w["satisfaction_score"] is None
    assert ISO_Z.match(w["last_activity"])
    assert set(data["raw_data"]) >= RAW_FIELDS
    assert data["raw_data"] == {"active_sessions": 3, "max_sessions": 5,
                                "utilization_rate": 60.0, "status": "available"}

    def status(api: Api = kefu) -> str:
        return api.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]["status"]

    for chosen in ("busy", "away", "offline"):
        kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": chosen})
        assert status() == chosen
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "online"})
    assert status(admin) == "available"
    # a kefu message that answers no question gives no response time
    k.send(type="message", client_msg_id="w1", content="您好", session_id=sids[0])
    k.expect("ack")
    assert admin.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"][
        "avg_response_time"] is None
    # full, and never connected
    full_id, full = admin.create_kefu(max_sessions=1)
    connect(server, full, sockets)
    open_sessions(admin, full_id, 1)
    w = full.ok("GET", f"/api/kefu/{full_id}/workload")["workload"]
    assert (w["status"], w["utilization_rate"]) == ("full", 100.0)
    idle_id, idle = admin.create_kefu()
    w = idle.ok("GET", f"/api/kefu/{idle_id}/workload")["workload"]
    assert w["status"] == "offline" and w["utilization_rate"] == 0.0
    assert w["active_sessions"] == 0 and w["last_activity"] is None
    # roles
    assert_error(idle.call("GET", f"/api/kefu/{kefu_id}/workload"), 403)
    guest_id, guest = admin.guest()
    assert_error(guest.call("GET", f"/api/kefu/{kefu_id}/workload"), 403)
    assert_error(httpx.get(f"{server.base}/api/kefu/{kefu_id}/workload"), 401)
    for nobody in (uid("kefu"), guest_id):
        assert_error(admin.call("GET", f"/api/kefu/{nobody}/workload"), 404, "kefu_not_found")


def test_workload_response_time_from_real_replies(server: ServerProcess, admin: Api,
                                                  sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu()
    k = connect(server, kefu, sockets)
    kehu_id, kehu = admin.guest()
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})[
        "session_id"]
    c = connect(server, kehu, sockets)
    c.send(type="message", client_msg_id="q1", content="请问在吗")
    c.expect("ack")
    k.expect("message")
    k.send(type="message", client_msg_id="a1", content="在的", session_id=sid)
    sent_at = k.expect("ack")["message"]["timestamp"]
    w = kefu.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]
    assert isinstance(w["avg_response_time"], float) and w["avg_response_time"] >= 0
    assert w["last_activity"] == sent_at


def test_available_agents(server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    busy_id, busy = admin.create_kefu()
    loaded_id, loaded = admin.create_kefu("客服小王", max_sessions=5)
    free_id, free = admin.create_kefu("客服小李", max_sessions=5)
    full_id, full = admin.create_kefu(max_sessions=1)
    gone_id, _ = admin.create_kefu()  # never connects
    for api in (busy, loaded, free, full):
        connect(server, api, sockets)
    busy.ok("PUT", f"/api/users/{busy_id}/status", {"status": "busy"})
    open_sessions(admin, loaded_id, 3)
    open_sessions(admin, full_id, 1)
    r = loaded.call("GET", "/api/kefu/available")
    assert r.status_code == 200 and r.json()["message"] == "获取可用客服列表成功"
    data = r.json()["data"]
    AvailableOut.model_validate(data)
    assert set(data) >= {"available_kefu", "total"}
    assert data["total"] == len(data["available_kefu"])
    rows = {row["kefu_id"]: row for row in data["available_kefu"]}
    assert {busy_id, full_id, gone_id}.isdisjoint(rows)
    for row in rows.values():
        assert set(row) >= AVAILABLE_FIELDS
        assert type(row["efficiency_score"]) is float
        assert row["current_load"] < row["max_capacity"]
    # the documented formula: 2 × 5 (no ratings) + 10 × (1 − 3/5) − 0 = 14.0
    assert rows[loaded_id] == {"kefu_id": loaded_id, "kefu_name": "客服小王",
                               "current_load": 3, "max_capacity": 5,
                               "efficiency_score": 14.0,
                               "last_activity": rows[loaded_id]["last_activity"]}
    assert ISO_Z.match(rows[loaded_id]["last_activity"])
    assert rows[free_id]["efficiency_score"] == 20.0 and rows[free_id]["last_activity"] is None
    order = [row["kefu_id"] for row in data["available_kefu"]]
    assert order.index(free_id) < order.index(loaded_id)  # best score first
    assert admin.ok("GET", "/api/kefu/available")["total"] == data["total"]
    _, kehu = admin.guest()
    assert_error(kehu.call("GET", "/api/kefu/available"), 403)
    assert_error(httpx.get(f"{server.base}/api/kefu/available"), 401)
