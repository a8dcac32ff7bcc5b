"""Manual and automatic assignment (seed 2.6) and switching (seed 2.3, WS ``switch``)
against the real server process."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.contract import ISO_Z, assert_error
from tests.helpers import WS, Api, ServerProcess, uid

ASSIGN_KEYS = {"customer_id", "assigned_kefu_id", "assignment_time", "priority", "note",
               "status"}
SWITCH_KEYS = {"kefu_id", "customer_id", "switch_time", "status"}


def frames(ws: WS, *kinds: str, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """The next frame of each of ``kinds``, in whatever order they arrive."""
    got: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while set(got) != set(kinds):
        left = deadline - time.monotonic()
        assert left > 0, f"missing {set(kinds) - set(got)}; seen {[f['type'] for f in ws.seen]}"
        f = ws.expect_one_of(tuple(k for k in kinds if k not in got), timeout=left)
        got[f["type"]] = f
    return got


def connect(server: ServerProcess, api: Api) -> tuple[WS, dict[str, Any]]:
    ws = WS(server.ws_url, api.token)
    return ws, ws.expect("hello")


def waiting(api: Api) -> list[dict[str, Any]]:
    return api.ok("GET", "/api/kefu/waiting")["waiting_customers"]


# --- manual assignment --------------------------------------------------------------


def test_manual_assign_to_kefu_with_room(server: ServerProcess, admin: Api,
                                         sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu("客服小王")
    kehu_id, kehu = admin.guest("客户王五")
    r = admin.call("POST", f"/api/customer/{kehu_id}/assign",
                   {"kefu_id": kefu_id, "priority": "high", "note": "VIP客户"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    assert body["message"] == f"客户 {kehu_id} 已成功分配给客服 {kefu_id}"
    data = body["data"]
    assert set(data) >= ASSIGN_KEYS
    assert data["customer_id"] == kehu_id and data["assigned_kefu_id"] == kefu_id
    assert data["priority"] == "high" and data["note"] == "VIP客户"
    assert data["status"] == "assigned" and ISO_Z.match(data["assignment_time"])
    sid = f"{kehu_id}:{kefu_id}"
    # the kehu was not connected: it finds the session when it connects
    c, hello = connect(server, kehu)
    sockets.append(c)
    assert [s["session_id"] for s in hello["sessions"]] == [sid]
    assert hello["sessions"][0]["status"] == "active"
    assert hello["sessions"][0]["kefu_id"] == kefu_id
    # and so does the kefu
    k, hello = connect(server, kefu)
    sockets.append(k)
    assert sid in [s["session_id"] for s in hello["sessions"]]
    assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "active"
    # the kehu's first message goes into that session, not to the queue
    c.send(type="message", client_msg_id="m1", content="你好")
    assert c.expect("ack")["message"]["session_id"] == sid
    assert k.expect("message")["message"]["content"] == "你好"


def test_manual_assign_tells_connected_parties(server: ServerProcess, admin: Api,
                                               sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu()
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})
    kehu_id, kehu = admin.guest()
    k, _ = connect(server, kefu)
    c, hello = connect(server, kehu)
    sockets += [k, c]
    assert hello["sessions"] == []
    data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert data["status"] == "assigned" and data["priority"] == "normal" and data["note"] is None
    for ws in (c, k):
        assigned = ws.expect("assigned")
        assert assigned["session"]["session_id"] == f"{kehu_id}:{kefu_id}"


def test_assign_to_full_kefu_needs_admin_force(server: ServerProcess, admin: Api,
                                               sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    first_id, _ = admin.guest()
    second_id, _ = admin.guest()
    assert admin.ok("POST", f"/api/customer/{first_id}/assign",
                    {"kefu_id": kefu_id})["status"] == "assigned"
    full = admin.call("POST", f"/api/customer/{second_id}/assign", {"kefu_id": kefu_id})
    assert_error(full, 409, "kefu_full")
    assert_error(kefu.call("POST", f"/api/customer/{second_id}/assign", {"kefu_id": kefu_id}),
                 409, "kefu_full")
    # force is for admins only
    r = kefu.call("POST", f"/api/customer/{second_id}/assign", {"kefu_id": kefu_id,
                                                                 "force": True})
    assert_error(r, 403)
    data = admin.ok("POST", f"/api/customer/{second_id}/assign", {"kefu_id": kefu_id,
                                                                   "force": True})
    assert data["status"] == "assigned" and data["assigned_kefu_id"] == kefu_id
    # over capacity now: both sessions are live
    k, hello = connect(server, kefu)
    sockets.append(k)
    assert sorted(s["session_id"] for s in hello["sessions"]) == sorted(
        [f"{first_id}:{kefu_id}", f"{second_id}:{kefu_id}"])
    # and still full for a plain assignment
    third_id, _ = admin.guest()
    assert_error(admin.call("POST", f"/api/customer/{third_id}/assign", {"kefu_id": kefu_id}),
                 409, "kefu_full")
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})


def test_assign_kehu_already_in_session_is_409(server: ServerProcess, admin: Api) -> None:
    kefu_id, _ = admin.create_kefu()
    kefu2_id, _ = admin.create_kefu()
    kehu_id, _ = admin.guest()
    admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    for body in ({"kefu_id": kefu2_id}, {"kefu_id": kefu_id}, {"kefu_id": kefu2_id,
                                                               "force": True}, {}):
        r = admin.call("POST", f"/api/customer/{kehu_id}/assign", body)
        assert_error(r, 409, "already_in_session")
    sid = f"{kehu_id}:{kefu_id}"
    assert admin.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "active"
    assert_error(admin.call("GET", f"/api/sessions/{kehu_id}:{kefu2_id}"), 404)
    # once the session has ended, the kehu can be assigned again
    admin.ok("POST", f"/api/sessions/{sid}/end")
    data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu2_id})
    assert data["status"] == "assigned" and data["assigned_kefu_id"] == kefu2_id


def test_assign_unknown_kefu_or_customer(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    kehu_id, _ = admin.guest()
    other_kehu_id, _ = admin.guest()
    r = admin.call("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": uid("kefu")})
    assert_error(r, 404, "kefu_not_found")
    # a user who is not a kefu is not a kefu either
    for not_kefu in (other_kehu_id, "admin"):
        r = admin.call("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": not_kefu})
        assert_error(r, 404, "kefu_not_found")
    r = admin.call("POST", f"/api/customer/{uid('kehu')}/assign", {"kefu_id": kefu_id})
    assert_error(r, 404, "user_not_found")
    # the customer must be a kehu
    for not_kehu in (kefu_id, "admin"):
        r = admin.call("POST", f"/api/customer/{not_kehu}/assign", {"kefu_id": kefu_id})
        assert_error(r, 400, "not_a_kehu")
        assert_error(admin.call("POST", f"/api/customer/{not_kehu}/assign", {}), 400,
                     "not_a_kehu")
    r = kefu.call("POST", f"/api/customer/{kefu_id}/assign", {"kefu_id": kefu_id})
    assert_error(r, 400, "not_a_kehu")
    # none of that opened a session
    assert_error(admin.call("GET", f"/api/sessions/{kehu_id}:{kefu_id}"), 404)


def test_kefu_assigns_only_to_itself(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    kefu2_id, _ = admin.create_kefu()
    kehu_id, _ = admin.guest()
    assert_error(kefu.call("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu2_id}),
                 403)
    assert_error(kefu.call("POST", f"/api/customer/{kehu_id}/assign", {}), 403)
    data = kefu.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert data["status"] == "assigned" and data["assigned_kefu_id"] == kefu_id


# --- automatic assignment and the queue (a server of their own) ---------------------


def test_auto_assign_queues_when_nobody_is_online(fresh_server: ServerProcess,
                                                  sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu()  # exists, but not connected
    online_id, online = admin.guest("在线客户")
    offline_id, _ = admin.guest("离线客户")
    c, _ = connect(fresh_server, online)
    sockets.append(c)
    before = int(time.time())
    r = admin.call("POST", f"/api/customer/{online_id}/assign", {"note": "老客户"})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == f"客户 {online_id} 已进入等待队列"
    data = r.json()["data"]
    assert set(data) >= ASSIGN_KEYS | {"position"}
    assert data["status"] == "queued" and data["position"] == 1
    assert data["assigned_kefu_id"] is None and data["customer_id"] == online_id
    assert data["priority"] == "normal" and data["note"] == "老客户"
    assert ISO_Z.match(data["assignment_time"])
    assert c.expect("queued")["position"] == 1
    # a high-priority customer goes ahead of it
    data = admin.ok("POST", f"/api/customer/{offline_id}/assign", {"priority": "high"})
    assert data["status"] == "queued" and data["position"] == 1
    assert c.expect("queued")["position"] == 2
    # asking again does not duplicate the entry
    again = admin.ok("POST", f"/api/customer/{online_id}/assign", {"note": "老客户"})
    assert again["status"] == "queued" and again["position"] == 2
    after = int(time.time())
    for viewer in (admin, kefu):
        body = viewer.ok("GET", "/api/kefu/waiting")
        rows = body["waiting_customers"]
        assert body["total"] == 2
        assert [w["customer_id"] for w in rows] == [offline_id, online_id]
        by_id = {w["customer_id"]: w for w in rows}
        assert by_id[online_id]["customer_name"] == "在线客户"
        assert by_id[online_id]["status"] == "Online"
        assert by_id[offline_id]["status"] == "Offline"
        assert by_id[offline_id]["priority"] == "high"
        assert by_id[online_id]["priority"] == "normal"
        for w in rows:
            assert type(w["waiting_since"]) is int
            assert before - 1 <= w["waiting_since"] <= after + 1
            assert type(w["waiting_duration_seconds"]) is int
            assert 0 <= w["waiting_duration_seconds"] <= after - before + 2
    # a kefu connecting takes both: the customer who is there first, although the one
    # whose page is gone is ahead in the queue (issue 15: a closed page took a seat ahead
    # of a live customer); the queue's order itself (positions above) is priority's
    k, _ = connect(fresh_server, kefu)
    sockets.append(k)
    first = k.expect("assigned")["session"]["kehu_id"]
    second = k.expect("assigned")["session"]["kehu_id"]
    assert (first, second) == (online_id, offline_id)
    assert c.expect("assigned")["session"]["session_id"] == f"{online_id}:{kefu_id}"
    assert waiting(admin) == []


def test_auto_assign_with_an_agent_online_is_immediate(fresh_server: ServerProcess,
                                                      sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu()
    k, _ = connect(fresh_server, kefu)
    sockets.append(k)
    kehu_id, _ = admin.guest()
    data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"priority": "low"})
    assert data["status"] == "assigned" and data["assigned_kefu_id"] == kefu_id
    assert data["priority"] == "low"
    assert k.expect("assigned")["session"]["kehu_id"] == kehu_id
    assert waiting(admin) == []


def test_manual_assign_takes_a_waiting_kehu_from_the_queue(fresh_server: ServerProcess,
                                                          sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    a_id, a = admin.guest()
    b_id, b = admin.guest()
    ca, _ = connect(fresh_server, a)
    cb, _ = connect(fresh_server, b)
    sockets += [ca, cb]
    ca.send(type="request_service")
    assert ca.expect("queued")["position"] == 1
    cb.send(type="request_service")
    assert cb.expect("queued")["position"] == 2
    data = admin.ok("POST", f"/api/customer/{a_id}/assign", {"kefu_id": kefu_id})
    assert data["status"] == "assigned"
    assert ca.expect("assigned")["session"]["session_id"] == f"{a_id}:{kefu_id}"
    assert cb.expect("queued")["position"] == 1  # moved up
    assert [w["customer_id"] for w in waiting(admin)] == [b_id]
    # the kefu is full now: a manual assignment of b is refused and b keeps its place
    assert_error(admin.call("POST", f"/api/customer/{b_id}/assign", {"kefu_id": kefu_id}), 409,
                 "kefu_full")
    assert [w["customer_id"] for w in waiting(admin)] == [b_id]


def test_queued_kehu_learns_its_position_when_it_connects(fresh_server: ServerProcess,
                                                         sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    # one queued by an admin while it was offline
    rest_id, rest_kehu = admin.guest()
    assert admin.ok("POST", f"/api/customer/{rest_id}/assign", {})["status"] == "queued"
    # one that asked for service, then dropped its connection
    back_id, back_kehu = admin.guest()
    first, _ = connect(fresh_server, back_kehu)
    first.send(type="request_service")
    assert first.expect("queued")["position"] == 2
    first.close()
    assert [w["customer_id"] for w in waiting(admin)] == [rest_id, back_id]
    c1, hello1 = connect(fresh_server, rest_kehu)
    c2, hello2 = connect(fresh_server, back_kehu)
    sockets += [c1, c2]
    assert hello1["sessions"] == [] and hello2["sessions"] == []
    positions = {}
    for name, ws, timeout in (("rest", c1, 2.0), ("reconnect", c2, 0.5)):
        try:
            positions[name] = ws.expect("queued", timeout=timeout)["position"]
        except AssertionError:
            positions[name] = None
    assert positions == {"rest": 1, "reconnect": 2}


# --- switching ----------------------------------------------------------------------


def test_switch_to_own_customer(server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu()
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})
    tab1, _ = connect(server, kefu)
    tab2, _ = connect(server, kefu)
    sockets += [tab1, tab2]
    one_id, _ = admin.guest()
    two_id, _ = admin.guest()
    for kehu_id in (one_id, two_id):
        admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
        for tab in (tab1, tab2):
            tab.expect("assigned")
    r = kefu.call("POST", f"/api/kefu/{kefu_id}/switch/{two_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == f"客服 {kefu_id} 已成功切换到客户 {two_id}"
    data = body["data"]
    assert set(data) >= SWITCH_KEYS
    assert data["kefu_id"] == kefu_id and data["customer_id"] == two_id
    assert data["status"] == "success" and ISO_Z.match(data["switch_time"])
    for tab in (tab1, tab2):
        switched = tab.expect("switched")
        assert switched["customer_id"] == two_id and switched["kefu_id"] == kefu_id
        assert switched["session_id"] == f"{two_id}:{kefu_id}"
    # a message without session_id now goes to the customer switched to
    tab1.send(type="message", client_msg_id="s1", content="您好")
    assert tab1.expect("ack")["message"]["session_id"] == f"{two_id}:{kefu_id}"
    # an admin may switch on the kefu's behalf
    data = admin.ok("POST", f"/api/kefu/{kefu_id}/switch/{one_id}")
    assert data["customer_id"] == one_id and data["status"] == "success"
    assert tab2.expect("switched")["customer_id"] == one_id
    for kehu_id in (one_id, two_id):
        kefu.ok("POST", f"/api/sessions/{kehu_id}:{kefu_id}/end")


def test_switch_refusals(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    kefu2_id, kefu2 = admin.create_kefu()
    mine_id, mine = admin.guest()
    theirs_id, _ = admin.guest()
    admin.ok("POST", f"/api/customer/{mine_id}/assign", {"kefu_id": kefu_id})
    admin.ok("POST", f"/api/customer/{theirs_id}/assign", {"kefu_id": kefu2_id})
    # another kefu's customer, an idle kehu, a non-customer, nobody: all the same 404
    stranger_id, _ = admin.guest()
    for customer in (theirs_id, stranger_id, kefu2_id, uid("kehu")):
        r = kefu.call("POST", f"/api/kefu/{kefu_id}/switch/{customer}")
        assert_error(r, 404, "customer_not_found")
    # a kefu acting for another kefu: 403, even for that kefu's own customer
    assert_error(kefu.call("POST", f"/api/kefu/{kefu2_id}/switch/{theirs_id}"), 403)
    assert_error(kefu2.call("POST", f"/api/kefu/{kefu_id}/switch/{mine_id}"), 403)
    # kehu cannot switch; no token is 401; an unknown kefu is 404
    assert_error(mine.call("POST", f"/api/kefu/{kefu_id}/switch/{mine_id}"), 403)
    assert_error(httpx.post(f"{server.base}/api/kefu/{kefu_id}/switch/{mine_id}"), 401)
    assert_error(admin.call("POST", f"/api/kefu/{uid('kefu')}/switch/{mine_id}"), 404,
                 "kefu_not_found")
    # the idle stranger was not pulled into a session by the refused switch
    assert_error(admin.call("GET", f"/api/sessions/{stranger_id}:{kefu_id}"), 404)
    assert kefu.ok("POST", f"/api/kefu/{kefu_id}/switch/{mine_id}")["status"] == "success"


def test_ws_switch_frame(server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    kefu_id, kefu = admin.create_kefu()
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})
    tab1, _ = connect(server, kefu)
    tab2, _ = connect(server, kefu)
    sockets += [tab1, tab2]
    one_id, one = admin.guest()
    two_id, _ = admin.guest()
    for kehu_id in (one_id, two_id):
        admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    tab1.send(type="switch", customer_id=two_id)
    for tab in (tab1, tab2):
        switched = tab.expect("switched")
        assert switched["customer_id"] == two_id
        assert switched["session_id"] == f"{two_id}:{kefu_id}"
    stranger = uid("kehu")
    tab1.send(type="switch", customer_id=stranger)
    err = tab1.expect("error")
    assert err["code"] == "customer_not_found" and err["ref"] == stranger
    tab1.send(type="switch", customer_id="")
    assert tab1.expect("error")["code"] == "bad_frame"
    tab1.send(type="ping")
    tab1.expect("pong")  # the connection stays usable
    # a kehu cannot switch
    c, _ = connect(server, one)
    sockets.append(c)
    c.send(type="switch", customer_id=two_id)
    assert c.expect("error")["code"] == "forbidden"
    for kehu_id in (one_id, two_id):
        kefu.ok("POST", f"/api/sessions/{kehu_id}:{kefu_id}/end")


def test_switch_takes_a_waiting_kehu_from_the_queue(fresh_server: ServerProcess,
                                                   sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=2)
    k, _ = connect(fresh_server, kefu)
    sockets.append(k)
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})  # takes nobody itself
    ids, socks = [], []
    for _ in range(3):
        kehu_id, kehu = admin.guest()
        c, _ = connect(fresh_server, kehu)
        sockets.append(c)
        c.send(type="request_service")
        c.expect("queued")
        ids.append(kehu_id)
        socks.append(c)
    assert [w["customer_id"] for w in waiting(kefu)] == ids
    # REST: the last in line is taken out of the queue by the switch
    data = kefu.ok("POST", f"/api/kefu/{kefu_id}/switch/{ids[2]}")
    assert data["customer_id"] == ids[2] and data["status"] == "success"
    assert socks[2].expect("assigned")["session"]["session_id"] == f"{ids[2]}:{kefu_id}"
    got = frames(k, "assigned", "switched")
    assert got["assigned"]["session"]["kehu_id"] == ids[2]
    assert got["switched"]["customer_id"] == ids[2]
    assert [w["customer_id"] for w in waiting(kefu)] == ids[:2]
    # WS: the same through a switch frame
    k.send(type="switch", customer_id=ids[0])
    assert socks[0].expect("assigned")["session"]["session_id"] == f"{ids[0]}:{kefu_id}"
    got = frames(k, "assigned", "switched")
    assert got["switched"]["customer_id"] == ids[0]
    assert socks[1].expect("queued")["position"] == 1
    assert [w["customer_id"] for w in waiting(kefu)] == [ids[1]]
    # full now (2 of 2): the last waiting kehu stays where it is
    assert_error(kefu.call("POST", f"/api/kefu/{kefu_id}/switch/{ids[1]}"), 409, "kefu_full")
    k.send(type="switch", customer_id=ids[1])
    err = k.expect("error")
    assert err["code"] == "kefu_full" and err["ref"] == ids[1]
    assert [w["customer_id"] for w in waiting(kefu)] == [ids[1]]
