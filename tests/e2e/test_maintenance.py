"""Maintenance mode (seed 6.3, SPEC §7) on a real server: new kehu get the operator's
message and are not queued, guests and non-admin writes get 503, reads and live sessions
carry on, admins keep working, health says "maintenance"; the flag survives a dispatcher
restart and a server restart, and turning it off lets everyone in again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import WS, Api, ServerProcess

NOTICE = "系统升级中，预计10分钟后恢复"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("maint")), KEFU_FAULT_INJECTION="1")
    server.start()
    yield server
    server.stop()


def waiting_ids(admin: Api) -> list[str]:
    return [w["customer_id"] for w in admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]


def test_maintenance_refuses_newcomers_and_lets_live_sessions_carry_on(
        srv: ServerProcess) -> None:
    admin = Api.login(srv.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    k = WS(srv.ws_url, kefu.token)
    k.expect("hello")
    # before: one kehu in a session, one waiting in the queue, one not yet arrived
    live_id, live = admin.guest("在会话中")
    c = WS(srv.ws_url, live.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="l1", content="你好")
    sid = c.expect("ack")["message"]["session_id"]
    k.expect("message")
    queued_id, queued = admin.guest("排队中")
    q = WS(srv.ws_url, queued.token)
    q.expect("hello")
    q.send(type="message", client_msg_id="q1", content="有人吗")
    q.expect("ack")
    new_id, newcomer = admin.guest("新客户")
    assert waiting_ids(admin) == [queued_id]

    on = admin.ok("PUT", "/api/system/maintenance", {"enabled": True, "message": NOTICE})
    assert on["enabled"] is True and on["message"] == NOTICE and on["updated_by"] == "admin"
    assert on["since"].endswith("Z")
    assert admin.ok("GET", "/api/system/maintenance")["enabled"] is True

    health = admin.call("GET", "/api/system/health")
    assert health.status_code == 200
    assert health.json()["data"]["status"] == "maintenance"
    assert health.json()["data"]["maintenance"] is True

    # guests: 503 with the operator's message, in any language
    for lang in ("zh-CN", "en"):
        r = Api(srv.base).call("POST", "/api/auth/guest", {"name": "x"},
                               headers={"Accept-Language": lang})
        assert r.status_code == 503
        assert r.json()["message"] == NOTICE and r.json()["error"] == "maintenance"

    # a new kehu is told, over its socket, and is not queued
    n = WS(srv.ws_url, newcomer.token)
    n.expect("hello")
    n.send(type="message", client_msg_id="n1", content="在吗")
    err = n.expect_one_of(("ack", "error", "assigned", "queued"))
    assert err == {"type": "error", "code": "maintenance", "message": NOTICE, "ref": "n1"}
    n.send(type="request_service")
    err = n.expect_one_of(("error", "assigned", "queued"))
    assert err["code"] == "maintenance" and err["message"] == NOTICE
    assert waiting_ids(admin) == [queued_id]

    # the live session carries on both ways; the queued kehu keeps its place
    c.send(type="message", client_msg_id="l2", content="继续聊")
    assert c.expect("ack")["message"]["seq"] == 2
    assert k.expect("message")["message"]["content"] == "继续聊"
    k.send(type="message", session_id=sid, client_msg_id="k1", content="好的")
    assert k.expect("ack")["message"]["seq"] == 3
    assert c.expect("message")["message"]["content"] == "好的"
    q.send(type="message", client_msg_id="q2", content="还在排队")
    assert q.expect_one_of(("ack", "error"))["type"] == "ack"

    # REST: non-admin writes 503, reads fine, login/logout fine, admins work
    r = kefu.call("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})
    assert r.status_code == 503 and r.json()["message"] == NOTICE
    assert kefu.call("POST", f"/api/sessions/{sid}/end").status_code == 503
    assert live.call("POST", f"/api/sessions/{sid}/end").status_code == 503
    assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "active"
    assert live.ok("GET", f"/api/sessions/{sid}/messages")["pagination"]["total"] == 3
    again = Api.login(srv.base, kefu_id, "pw")
    assert again.ok("POST", "/api/auth/logout")["revoked"] is True
    created, _ = admin.create_kefu()
    assert admin.ok("GET", f"/api/users/{created}")["user"]["id"] == created
    logged = admin.ok("GET", "/api/system/logs?level=warning")["logs"]
    assert any(e["event"] == "maintenance_on" and e["fields"]["by"] == "admin" for e in logged)

    # a restarted dispatcher reads the flag back from Redis
    admin.ok("POST", "/api/system/actors/dispatcher:main/crash")
    n.send(type="message", client_msg_id="n2", content="再试一次")
    err = n.expect("error", where=lambda f: f["ref"] == "n2")
    assert err["code"] == "maintenance"

    off = admin.ok("PUT", "/api/system/maintenance", {"enabled": False})
    assert off == {"enabled": False, "message": None, "since": None, "updated_by": "admin"}
    assert admin.ok("GET", "/api/system/health")["status"] == "healthy"
    Api(srv.base).ok("POST", "/api/auth/guest", {"name": "又来了"})
    n.send(type="message", client_msg_id="n3", content="现在呢")
    assert n.expect_one_of(("ack", "error"))["type"] == "ack"
    assert waiting_ids(admin) == [queued_id, new_id]
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "online"})
    for ws in (c, q, n, k):
        ws.close()
    assert live_id != new_id


def test_maintenance_survives_a_server_restart(srv: ServerProcess) -> None:
    admin = Api.login(srv.base, "admin", "admin-pass")
    admin.ok("PUT", "/api/system/maintenance", {"enabled": True})
    r = Api(srv.base).call("POST", "/api/auth/guest", {}, headers={"Accept-Language": "en"})
    assert r.status_code == 503 and "maintenance" in r.json()["message"]  # the default text
    srv.stop()
    srv.start()
    assert Api(srv.base).call("POST", "/api/auth/guest", {}).status_code == 503
    admin = Api.login(srv.base, "admin", "admin-pass")
    assert admin.ok("GET", "/api/system/health")["maintenance"] is True
    admin.ok("PUT", "/api/system/maintenance", {"enabled": False})
    Api(srv.base).ok("POST", "/api/auth/guest", {})


def test_maintenance_endpoint_validates_and_is_admin_only(srv: ServerProcess) -> None:
    admin = Api.login(srv.base, "admin", "admin-pass")
    for body in ({}, {"enabled": "yes"}, {"enabled": 1}, {"enabled": True, "message": 3},
                 {"enabled": True, "extra": 1}, {"enabled": True, "message": "x" * 501}):
        r = admin.call("PUT", "/api/system/maintenance", body)
        assert r.status_code == 400 and "details" in r.json(), body
    _, kefu = admin.create_kefu()
    _, kehu = admin.guest()
    for api, status in ((Api(srv.base), 401), (kefu, 403), (kehu, 403)):
        assert api.call("GET", "/api/system/maintenance").status_code == status
        assert api.call("PUT", "/api/system/maintenance",
                        {"enabled": True}).status_code == status
    assert admin.ok("GET", "/api/system/maintenance")["enabled"] is False


def test_which_requests_maintenance_refuses() -> None:
    from kefu.domain import User, UserType  # noqa: PLC0415
    from kefu.http.maintenance_gate import refuses  # noqa: PLC0415
    from kefu.persistence.maintenance import Maintenance  # noqa: PLC0415

    on, off = Maintenance(enabled=True), Maintenance()
    kefu = User(id="k", name="k", user_type=UserType.KEFU, created_at="")
    boss = User(id="a", name="a", user_type=UserType.ADMIN, created_at="")
    assert refuses(on, "POST", "/api/sessions/x/end", kefu)
    assert refuses(on, "DELETE", "/api/messages/m", kefu)
    assert refuses(on, "POST", "/api/auth/guest", None)
    assert not refuses(on, "GET", "/api/sessions/x", kefu)
    assert not refuses(on, "POST", "/api/auth/login", None)
    assert not refuses(on, "POST", "/api/auth/logout", kefu)
    assert not refuses(on, "POST", "/api/messages/search", kefu)  # a read with a body
    assert not refuses(on, "PUT", "/api/users/k", boss)
    assert not refuses(off, "POST", "/api/auth/guest", None)
