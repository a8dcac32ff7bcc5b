"""User administration against the real server: list (seed 3.1), update (3.4), delete
(3.5), permissions (3.6) — contract fields, filters, exact pagination, roles, mass
assignment, and capacity changes that reach the dispatcher at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.http.handlers.user_admin import (
    PermissionsOut,
    UserDeletedOut,
    UserListOut,
    UserUpdatedOut,
)
from tests.contract import ISO_Z, assert_error, secret_keys
from tests.helpers import WS, Api, ServerProcess, connect, uid

USER_FIELDS = {"id": str, "name": str, "user_type": str, "status": str, "max_sessions": int,
               "permissions": list, "created_at": str, "connections": int}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's own server (a long grace: nothing is requeued behind a test's back)."""
    srv = ServerProcess(Path(tmp_path_factory.mktemp("users")),
                        KEFU_AGENT_GRACE_SECONDS="300")
    srv.start()
    yield srv
    srv.stop()



def users(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok("GET", "/api/users", params=params)


def create(admin: Api, user_type: str, **extra: Any) -> tuple[str, Api]:
    user_id = uid(user_type)
    admin.ok("POST", "/api/users/create", {"id": user_id, "name": user_id,
                                           "user_type": user_type, "password": "pw", **extra})
    return user_id, Api.login(admin.base, user_id, "pw")


def workload(api: Api, kefu_id: str) -> dict[str, Any]:
    return api.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]


# --- 3.1 list -------------------------------------------------------------------------


def test_user_list_contract_filters_and_pagination(server: ServerProcess, admin: Api,
                                                   sockets: list[WS]) -> None:
    kefu_before = users(admin, user_type="kefu")["pagination"]["total"]
    made = [create(admin, "kefu")[0] for _ in range(3)]
    made += [admin.guest()[0] for _ in range(2)]
    made.append(create(admin, "admin")[0])
    r = admin.call("GET", "/api/users")
    assert r.status_code == 200 and r.json()["message"] == "获取用户列表成功"
    data = r.json()["data"]
    UserListOut.model_validate(data)  # as documented in the OpenAPI document
    assert set(data) == {"users", "pagination"}
    total = data["pagination"]["total"]
    assert data["pagination"] == {"page": 1, "limit": 20, "total": total,
                                  "total_pages": (total + 19) // 20}
    assert [u["id"] for u in data["users"][:6]] == made[::-1]  # newest first
    for u in data["users"]:
        for name, typ in USER_FIELDS.items():
            assert type(u[name]) is typ, (name, u)
        assert ISO_Z.match(u["created_at"])
    assert secret_keys(data) == []
    # every page, exactly once
    seen: list[str] = []
    first = users(admin, limit=4)
    assert first["pagination"]["total_pages"] == (total + 3) // 4
    for page in range(1, first["pagination"]["total_pages"] + 2):
        body = users(admin, limit=4, page=page)
        assert body["pagination"]["total"] == total
        seen += [u["id"] for u in body["users"]]
    assert len(seen) == total == len(set(seen)) and set(made) <= set(seen)
    # by type
    kefus = users(admin, user_type="kefu", limit=200)
    assert kefus["pagination"]["total"] == kefu_before + 3
    assert {u["user_type"] for u in kefus["users"]} == {"kefu"}
    assert set(made[:3]) <= {u["id"] for u in kefus["users"]}
    admins = users(admin, user_type="admin", limit=200)["users"]
    assert {"admin", made[5]} <= {u["id"] for u in admins}
    assert users(admin, user_type="kehu", limit=1)["pagination"]["total"] >= 2
    # by live status: a connected kefu is online, then busy; a connected kehu is online
    kefu_id = made[0]
    kefu = Api.login(server.base, kefu_id, "pw")
    connect(server, kefu, sockets)
    kehu_id, kehu = admin.guest()
    connect(server, kehu, sockets)

    def ids(**params: Any) -> set[str]:
        return {u["id"] for u in users(admin, limit=200, **params)["users"]}

    assert kefu_id in ids(user_type="kefu", status="online")
    assert kefu_id not in ids(user_type="kefu", status="offline")
    assert made[1] in ids(user_type="kefu", status="offline")
    assert kehu_id in ids(status="online") and kehu_id in ids(user_type="kehu", status="online")
    assert made[3] in ids(user_type="kehu", status="offline")
    kefu.ok("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"})
    busy = users(admin, status="busy", limit=200)
    assert kefu_id in {u["id"] for u in busy["users"]}
    assert {u["status"] for u in busy["users"]} == {"busy"}
    assert busy["pagination"]["total"] == len(busy["users"])
    # roles
    assert_error(kefu.call("GET", "/api/users"), 403)
    assert_error(kehu.call("GET", "/api/users"), 403)
    assert_error(httpx.get(f"{server.base}/api/users"), 401)


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "x"}, "limit"),
    ({"page": 0}, "page"), ({"user_type": "robot"}, "user_type"),
    ({"status": "sleeping"}, "status"),
])
def test_user_list_bad_query(server: ServerProcess, admin: Api, params: dict[str, Any],
                             field: str) -> None:
    body = assert_error(admin.call("GET", "/api/users", params=params), 400)
    assert field in body["details"]


# --- 3.4 update -----------------------------------------------------------------------


def test_update_user_roles_and_mass_assignment(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = create(admin, "kefu")
    other_id, other = create(admin, "kefu")
    kehu_id, kehu = admin.guest("访客")
    r = kefu.call("PUT", f"/api/users/{kefu_id}", {"name": "客服小王"})
    assert r.status_code == 200 and r.json()["message"] == "用户更新成功"
    UserUpdatedOut.model_validate(r.json()["data"])
    user = r.json()["data"]["user"]
    for name, typ in USER_FIELDS.items():
        assert type(user[name]) is typ, (name, user)
    assert user["name"] == "客服小王" and secret_keys(r.json()) == []
    assert admin.ok("GET", f"/api/users/{kefu_id}")["user"]["name"] == "客服小王"
    assert workload(admin, kefu_id)["kefu_name"] == "客服小王"  # the dispatcher knows
    # its own password: the new one works, the old one does not
    body = kefu.ok("PUT", f"/api/users/{kefu_id}", {"password": "new-pw"})
    assert secret_keys(body) == []
    Api.login(server.base, kefu_id, "new-pw")
    assert_error(httpx.post(f"{server.base}/api/auth/login",
                            json={"user_id": kefu_id, "password": "pw"}), 401)
    # never its own capacity, role or permissions
    assert_error(kefu.call("PUT", f"/api/users/{kefu_id}", {"max_sessions": 50}), 403)
    for field, value in (("user_type", "admin"), ("permissions", ["all"]),
                         ("status", "online"), ("id", "x")):
        body = assert_error(kefu.call("PUT", f"/api/users/{kefu_id}", {field: value}), 400)
        assert field in body["details"]
    stored = admin.ok("GET", f"/api/users/{kefu_id}")["user"]
    assert (stored["id"], stored["user_type"], stored["max_sessions"], stored["permissions"]) \
        == (kefu_id, "kefu", 5, ["transfer", "end", "take", "notes"])  # role defaults
    # others' records: 403 for a kefu, 404 for a kehu (no existence leak)
    assert_error(kefu.call("PUT", f"/api/users/{other_id}", {"name": "x"}), 403)
    assert_error(kehu.call("PUT", f"/api/users/{kefu_id}", {"name": "x"}), 404)
    assert_error(kehu.call("PUT", f"/api/users/{uid('kehu')}", {"name": "x"}), 404)
    assert_error(httpx.put(f"{server.base}/api/users/{kefu_id}", json={"name": "x"}), 401)
    # a kehu renames itself; capacity is not its business
    assert kehu.ok("PUT", f"/api/users/{kehu_id}", {"name": "客户张三"})["user"]["name"] == \
        "客户张三"
    assert_error(kehu.call("PUT", f"/api/users/{kehu_id}", {"max_sessions": 2}), 403)
    # admin: anyone, but only a kefu has a capacity; bad values are 400
    assert admin.ok("PUT", f"/api/users/{other_id}", {"max_sessions": 7, "name": "客服小李"})[
        "user"]["max_sessions"] == 7
    assert workload(other, other_id)["max_sessions"] == 7
    assert_error(admin.call("PUT", f"/api/users/{kehu_id}", {"max_sessions": 2}), 400)
    for bad in ({}, {"max_sessions": 0}, {"max_sessions": 101}, {"max_sessions": "3"},
                {"name": ""}, {"name": "x" * 101}, {"password": ""}, {"name": None}):
        assert_error(admin.call("PUT", f"/api/users/{other_id}", bad), 400)
    assert_error(admin.call("PUT", f"/api/users/{uid('kefu')}", {"name": "x"}), 404,
                 "user_not_found")
    r = admin.call("PUT", f"/api/users/{other_id}", content=b"{bad json",
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_capacity_change_reaches_the_dispatcher(fresh_server: ServerProcess,
                                                sockets: list[WS]) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    kefu_id, kefu = create(admin, "kefu", max_sessions=2)
    connect(fresh_server, kefu, sockets)
    kehu = {}
    for name in ("a", "b", "c"):
        kehu_id, api = admin.guest()
        kehu[name] = (kehu_id, api, connect(fresh_server, api, sockets))
    a_id, _, a = kehu["a"]
    a.send(type="request_service")
    assert a.expect("assigned")["session"]["kefu_id"] == kefu_id
    # lowered to 1: it is full at once
    user = admin.ok("PUT", f"/api/users/{kefu_id}", {"max_sessions": 1})["user"]
    assert user["max_sessions"] == 1
    w = workload(kefu, kefu_id)
    assert (w["max_sessions"], w["active_sessions"], w["status"]) == (1, 1, "full")
    b_id, _, b = kehu["b"]
    b.send(type="request_service")
    assert b.expect("queued")["position"] == 1
    c_id, _, _ = kehu["c"]
    assert_error(admin.call("POST", f"/api/customer/{c_id}/assign", {"kefu_id": kefu_id}),
                 409, "kefu_full")
    assert kefu_id not in {k["kefu_id"] for k in
                           admin.ok("GET", "/api/kefu/available")["available_kefu"]}
    # a queued kehu cannot be deleted from under the dispatcher
    assert_error(admin.call("DELETE", f"/api/users/{b_id}"), 409, "user_in_service")
    # the kefu cannot raise it itself
    assert_error(kefu.call("PUT", f"/api/users/{kefu_id}", {"max_sessions": 5}), 403)
    assert workload(kefu, kefu_id)["max_sessions"] == 1
    # raised to 3: the waiting kehu is assigned at once
    admin.ok("PUT", f"/api/users/{kefu_id}", {"max_sessions": 3})
    assert b.expect("assigned")["session"]["session_id"] == f"{b_id}:{kefu_id}"
    assert admin.ok("GET", "/api/kefu/waiting")["total"] == 0
    w = workload(admin, kefu_id)
    assert (w["max_sessions"], w["active_sessions"], w["status"]) == (3, 2, "available")
    assert w["utilization_rate"] == pytest.approx(66.7)
    assert admin.ok("POST", f"/api/customer/{c_id}/assign", {"kefu_id": kefu_id})[
        "status"] == "assigned"


# --- 3.5 delete -----------------------------------------------------------------------


def test_delete_kefu(server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    kefu_id, kefu = create(admin, "kefu")
    ws = connect(server, kefu, sockets)
    kehu_id, _ = admin.guest()
    sid = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})[
        "session_id"]
    body = assert_error(admin.call("DELETE", f"/api/users/{kefu_id}"), 409, "kefu_has_sessions")
    assert body["message"] == "客服仍有 1 个进行中的会话，请先结束或转接后再删除"
    r = admin.call("DELETE", f"/api/users/{kefu_id}", headers={"Accept-Language": "en"})
    assert "1 active session" in r.json()["message"]
    assert workload(kefu, kefu_id)["active_sessions"] == 1  # untouched
    # roles
    assert_error(kefu.call("DELETE", f"/api/users/{kefu_id}"), 403)
    _, guest = admin.guest()
    assert_error(guest.call("DELETE", f"/api/users/{kefu_id}"), 403)
    assert_error(httpx.delete(f"{server.base}/api/users/{kefu_id}"), 401)
    # once its session has ended it can go
    admin.ok("POST", f"/api/sessions/{sid}/end")
    r = admin.call("DELETE", f"/api/users/{kefu_id}")
    assert r.status_code == 200 and r.json()["message"] == "用户已删除"
    data = r.json()["data"]
    UserDeletedOut.model_validate(data)
    assert data["user_id"] == kefu_id and data["user_type"] == "kefu"
    assert data["revoked_tokens"] == 1 and ISO_Z.match(data["deleted_at"])
    assert ws.wait_closed() == 4401  # its live connection is closed
    assert_error(kefu.call("GET", f"/api/users/{kefu_id}"), 401)  # token revoked
    assert_error(httpx.post(f"{server.base}/api/auth/login",
                            json={"user_id": kefu_id, "password": "pw"}), 401)
    assert_error(admin.call("GET", f"/api/users/{kefu_id}"), 404)
    assert_error(admin.call("GET", f"/api/kefu/{kefu_id}/workload"), 404)
    assert kefu_id not in {u["id"] for u in users(admin, user_type="kefu", limit=200)["users"]}
    assert_error(admin.call("DELETE", f"/api/users/{kefu_id}"), 404, "user_not_found")
    # its sessions stay: they are history
    assert admin.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "completed"
    listed = admin.ok("GET", "/api/sessions/list", params={"kefu_id": kefu_id})
    assert [s["session_id"] for s in listed["sessions"]] == [sid]
    # and the dispatcher forgot it: no assignment to it, and the id can be reused
    assert_error(admin.call("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id}),
                 404, "kefu_not_found")
    admin.ok("POST", "/api/users/create", {"id": kefu_id, "name": "又来了",
                                           "user_type": "kefu", "password": "pw2"})
    assert workload(admin, kefu_id)["kefu_name"] == "又来了"


def test_delete_other_users(server: ServerProcess, admin: Api) -> None:
    body = assert_error(admin.call("DELETE", "/api/users/admin"), 409, "cannot_delete_self")
    assert body["message"] == "不能删除内置管理员或当前登录的账号"
    second_id, second = create(admin, "admin")
    assert_error(second.call("DELETE", f"/api/users/{second_id}"), 409, "cannot_delete_self")
    assert second.ok("GET", "/api/users/admin")["user"]["id"] == "admin"
    # a kehu in a session cannot go; a free one can, with all its tokens
    kefu_id, _ = create(admin, "kefu")
    busy_id, _ = admin.guest()
    admin.ok("POST", f"/api/customer/{busy_id}/assign", {"kefu_id": kefu_id})
    assert_error(admin.call("DELETE", f"/api/users/{busy_id}"), 409, "user_in_service")
    free_id, free = admin.guest()
    again = Api.login(server.base, "admin", "admin-pass")
    assert again.ok("DELETE", f"/api/users/{free_id}")["revoked_tokens"] == 1
    assert_error(free.call("GET", "/api/sessions/list"), 401)
    # an admin other than the built-in one can be deleted by another admin
    assert admin.ok("DELETE", f"/api/users/{second_id}")["user_type"] == "admin"
    assert_error(second.call("GET", "/api/users"), 401)


# --- 3.6 permissions ------------------------------------------------------------------


def test_permissions(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = create(admin, "kefu")
    kehu_id, kehu = admin.guest()
    r = admin.call("PUT", f"/api/users/{kefu_id}/permissions",
                   {"permissions": ["transfer", "export", "transfer"]})
    assert r.status_code == 200 and r.json()["message"] == "用户权限已更新"
    data = r.json()["data"]
    PermissionsOut.model_validate(data)
    assert data["user_id"] == kefu_id
    assert data["permissions"] == ["transfer", "export"]
    assert data["user"]["permissions"] == data["permissions"] and secret_keys(data) == []
    assert kefu.ok("GET", f"/api/users/{kefu_id}")["user"]["permissions"] == \
        ["transfer", "export"]
    assert admin.ok("PUT", f"/api/users/{kefu_id}/permissions", {"permissions": []})[
        "permissions"] == []
    # admin only, even for oneself
    for api, target in ((kefu, kefu_id), (kehu, kehu_id)):
        assert_error(api.call("PUT", f"/api/users/{target}/permissions",
                              {"permissions": ["all"]}), 403)
    assert_error(httpx.put(f"{server.base}/api/users/{kefu_id}/permissions",
                           json={"permissions": []}), 401)
    assert_error(admin.call("PUT", f"/api/users/{uid('kefu')}/permissions",
                            {"permissions": []}), 404, "user_not_found")
    for bad in ({}, {"permissions": "all"}, {"permissions": [1]}, {"permissions": [""]},
                {"permissions": ["x" * 65]}, {"permissions": [f"p{i}" for i in range(51)]},
                {"permissions": [], "user_type": "admin"}):
        body = assert_error(admin.call("PUT", f"/api/users/{kefu_id}/permissions", bad), 400)
        assert body["details"]
    assert admin.ok("GET", f"/api/users/{kefu_id}")["user"]["permissions"] == []
