"""Crash injection end to end: actors restarted from their snapshot, nothing lost;
past the restart intensity an actor is failed, health is 503, an operator restarts it."""

from __future__ import annotations

import threading

from tests.helpers import WS, Api, ServerProcess, open_pair


def _session(server: ServerProcess, admin: Api) -> tuple[Api, WS, WS, str]:
    p = open_pair(server, admin)
    return p.kefu, p.k, p.c, p.sid


def _actor(admin: Api, actor_id: str) -> dict:
    actors = admin.ok("GET", "/api/system/actors")["actors"]
    return next(a for a in actors if a["actor_id"] == actor_id)


def test_session_crash_during_traffic_loses_nothing(server: ServerProcess, admin: Api) -> None:
    kefu, k, c, sid = _session(server, admin)
    n = 200
    crashed = threading.Event()

    def send_all() -> None:
        for i in range(n):
            c.send(type="message", client_msg_id=f"t{i}", content=f"第{i}条")
            if i == n // 2:
                crashed.wait(10)

    sender = threading.Thread(target=send_all)
    sender.start()
    c.expect("ack", where=lambda f: f["client_msg_id"] == "t10")
    admin.ok("POST", f"/api/system/actors/session:{sid}/crash")
    crashed.set()
    sender.join()
    acked = {f["client_msg_id"]: f["message"]["seq"] for f in c.seen if f["type"] == "ack"}
    while len(acked) < n:
        f = c.expect_one_of(("ack", "error"))
        assert f["type"] == "ack", f  # the crash was not a message: nothing is refused
        acked[f["client_msg_id"]] = f["message"]["seq"]
    assert sorted(acked.values()) == list(range(1, n + 1))
    page = kefu.ok("GET", f"/api/sessions/{sid}/messages", params={"limit": 200})
    assert [m["seq"] for m in page["messages"]] == list(range(1, n + 1))
    assert {m["client_msg_id"] for m in page["messages"]} == set(acked)
    actor = _actor(admin, f"session:{sid}")
    assert actor["restarts"] >= 1 and actor["state"] == "running"
    assert "injected fault" in actor["last_failure"]
    c.close()
    k.close()


def test_dispatcher_crash_restores_from_snapshot(server: ServerProcess, admin: Api) -> None:
    kefu, k, c, sid = _session(server, admin)
    admin.ok("POST", "/api/system/actors/dispatcher:main/crash")
    # the restarted dispatcher still knows the assignment ...
    c.send(type="message", client_msg_id="after", content="还在吗")
    assert c.expect("ack")["message"]["session_id"] == sid
    # ... and keeps routing new customers
    _, kehu2 = admin.guest()
    c2 = WS(server.ws_url, kehu2.token)
    c2.expect("hello")
    c2.send(type="request_service")
    assert c2.expect("assigned")["session"]["kefu_id"] == sid.split(":")[1]
    assert _actor(admin, "dispatcher:main")["restarts"] >= 1
    for ws in (c, c2, k):
        ws.close()


def test_restart_intensity_marks_failed_until_operator_restart(
        fresh_server: ServerProcess) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu, k, c, sid = _session(fresh_server, admin)
    actor_id = f"session:{sid}"
    for i in range(6):  # KEFU_RESTART_INTENSITY defaults to 5 within 60 s
        admin.ok("POST", f"/api/system/actors/{actor_id}/crash")
        c.send(type="ping")  # a round trip orders our view after the crash
        c.expect("pong")
        if i < 5:
            c.send(type="message", client_msg_id=f"x{i}", content="x")
            c.expect("ack", where=lambda f, i=i: f["client_msg_id"] == f"x{i}")
    c.send(type="message", client_msg_id="refused", content="x")
    err = c.expect("error", where=lambda f: f["ref"] == "refused")
    assert err["code"] == "actor_failed"
    health = admin.call("GET", "/api/system/health")
    assert health.status_code == 503
    assert actor_id in health.json()["data"]["actors"]["failed"]
    assert _actor(admin, actor_id)["state"] == "failed"

    admin.ok("POST", f"/api/system/actors/{actor_id}/restart")
    assert admin.call("GET", "/api/system/health").status_code == 200
    c.send(type="message", client_msg_id="refused", content="x")
    assert c.expect("ack", where=lambda f: f["client_msg_id"] == "refused")["message"]["seq"] == 6
    c.close()
    k.close()


def test_operator_restart_of_a_running_actor(server: ServerProcess, admin: Api) -> None:
    kefu, k, c, sid = _session(server, admin)
    c.send(type="message", client_msg_id="r1", content="one")
    c.expect("ack")
    before = _actor(admin, f"session:{sid}")["restarts"]
    admin.ok("POST", f"/api/system/actors/session:{sid}/restart")
    c.send(type="message", client_msg_id="r2", content="two")
    assert c.expect("ack", where=lambda f: f["client_msg_id"] == "r2")["message"]["seq"] == 2
    assert _actor(admin, f"session:{sid}")["restarts"] == before + 1
    assert admin.call("POST", "/api/system/actors/session:nope/restart").status_code == 404
    c.close()
    k.close()
