"""REST auth and roles (SPEC §2) against the real server: login, guest, logout, tokens,
user creation and detail, and who may see which session."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from queue import Queue
from typing import Any

import httpx
import pytest
import websocket

from tests.contract import ISO_Z, assert_error, secret_keys
from tests.helpers import WS, Api, ServerProcess, uid


def without_time(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timestamp"}


def parse_z(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def create_user(admin: Api, user_type: str, password: str = "pw", **extra: Any) -> str:
    user_id = uid(user_type)
    r = admin.call("POST", "/api/users/create", {"id": user_id, "name": user_id,
                                                  "user_type": user_type, "password": password,
                                                  **extra})
    assert r.status_code == 201, r.text
    return user_id


class HeaderWS(WS):
    """A WS client that authenticates with ``Authorization: Bearer`` instead of ``?token=``."""

    def __init__(self, url: str, token: str) -> None:
        self.sock = websocket.create_connection(url, timeout=10,
                                                header=[f"Authorization: Bearer {token}"])
        self.q: Queue[dict[str, Any] | None] = Queue()
        self.seen: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


# --- login --------------------------------------------------------------------------


def test_login_success_shape(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu", password="s3cret-pw")
    r = httpx.post(server.base + "/api/auth/login",
                   json={"user_id": kefu_id, "password": "s3cret-pw"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"success", "message", "data"} and body["success"] is True
    data = body["data"]
    assert set(data) == {"token", "user", "expires_at"}
    assert isinstance(data["token"], str) and len(data["token"]) >= 20
    user = data["user"]
    assert user["id"] == kefu_id and user["user_type"] == "kefu" and user["name"] == kefu_id
    assert user["max_sessions"] == 5
    assert secret_keys(body) == [] and "s3cret-pw" not in r.text
    assert ISO_Z.match(data["expires_at"]), data["expires_at"]
    assert parse_z(data["expires_at"]) > time.time() + 60
    # the admin's own login has the same shape
    r = httpx.post(server.base + "/api/auth/login",
                   json={"user_id": "admin", "password": "admin-pass"})
    assert r.status_code == 200 and r.json()["data"]["user"]["user_type"] == "admin"
    assert secret_keys(r.json()) == []


def test_wrong_password_and_unknown_user_are_the_same_401(server: ServerProcess,
                                                          admin: Api) -> None:
    kefu_id = create_user(admin, "kefu")
    wrong = httpx.post(server.base + "/api/auth/login",
                       json={"user_id": kefu_id, "password": "not-it"})
    unknown = httpx.post(server.base + "/api/auth/login",
                         json={"user_id": uid("nobody"), "password": "pw"})
    a = assert_error(wrong, 401, "invalid_credentials")
    b = assert_error(unknown, 401, "invalid_credentials")
    assert without_time(a) == without_time(b)  # no user enumeration
    assert a["message"] == "用户名或密码错误"
    # a guest has no password: it cannot log in with any
    guest_id, _ = admin.guest()
    r = httpx.post(server.base + "/api/auth/login", json={"user_id": guest_id, "password": ""})
    assert_error(r, 400)  # empty password is a validation error
    r = httpx.post(server.base + "/api/auth/login", json={"user_id": guest_id, "password": "x"})
    assert_error(r, 401, "invalid_credentials")


# --- guest --------------------------------------------------------------------------


def test_guest_is_a_kehu_with_a_working_token(server: ServerProcess) -> None:
    r = httpx.post(server.base + "/api/auth/guest", json={"name": "客户张三"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and secret_keys(body) == []
    data = body["data"]
    assert set(data) >= {"token", "user", "expires_at"}
    assert data["user"]["user_type"] == "kehu" and data["user"]["name"] == "客户张三"
    assert ISO_Z.match(data["expires_at"])
    me = Api(server.base, data["token"])
    got = me.ok("GET", f"/api/users/{data['user']['id']}")["user"]
    assert got["id"] == data["user"]["id"] and got["user_type"] == "kehu"
    # no body at all is fine too: a default name
    r = httpx.post(server.base + "/api/auth/guest")
    assert r.status_code == 200, r.text
    anon = r.json()["data"]["user"]
    assert anon["user_type"] == "kehu" and anon["name"] and anon["id"] != data["user"]["id"]


def test_guest_rate_limit(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_GUEST_RATE_PER_MINUTE="3").start()
    try:
        url = srv.base + "/api/auth/guest"
        for _ in range(3):
            assert httpx.post(url, json={}).status_code == 200
        # a fixed one-minute window: at most 3 more can slip through if the minute turns
        statuses = []
        for _ in range(4):
            r = httpx.post(url, json={})
            statuses.append(r.status_code)
            if r.status_code == 429:
                body = assert_error(r, 429)
                assert body["message"] == "请求过于频繁"
                break
        assert statuses[-1] == 429, statuses
        # other endpoints are not limited
        Api.login(srv.base, "admin", "admin-pass")
    finally:
        srv.stop()


# --- logout and tokens --------------------------------------------------------------


def test_logout_revokes_the_token(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu")
    tab1 = Api.login(server.base, kefu_id, "pw")
    tab2 = Api.login(server.base, kefu_id, "pw")
    assert tab1.ok("POST", "/api/auth/logout") == {"revoked": True}
    assert_error(tab1.call("GET", f"/api/users/{kefu_id}"), 401)
    assert_error(tab1.call("POST", "/api/auth/logout"), 401)
    ws = WS(server.ws_url, tab1.token)
    assert ws.wait_closed() == 4401
    # only that token: the other login of the same user still works
    assert tab2.ok("GET", f"/api/users/{kefu_id}")["user"]["id"] == kefu_id
    # a guest's token is revoked the same way
    guest_id, guest = admin.guest()
    guest.ok("POST", "/api/auth/logout")
    assert_error(guest.call("GET", f"/api/users/{guest_id}"), 401)
    assert HeaderWS(server.ws_url, guest.token or "").wait_closed() == 4401
    assert_error(httpx.post(server.base + "/api/auth/logout"), 401)


def test_token_via_bearer_header_and_ws_query_or_header(server: ServerProcess,
                                                        admin: Api) -> None:
    guest_id, guest = admin.guest()
    token = guest.token or ""
    url = f"{server.base}/api/users/{guest_id}"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert_error(httpx.get(url), 401)
    assert_error(httpx.get(url, headers={"Authorization": token}), 401)
    assert_error(httpx.get(url, headers={"Authorization": f"Basic {token}"}), 401)
    assert_error(httpx.get(url, headers={"Authorization": "Bearer"}), 401)
    assert_error(httpx.get(url, headers={"Authorization": "Bearer " + "x" * 300}), 401)
    assert_error(httpx.get(url, params={"token": token}), 401)  # REST: header only
    by_query = WS(server.ws_url, token)
    assert by_query.expect("hello")["user"]["id"] == guest_id
    by_header = HeaderWS(server.ws_url, token)
    hello = by_header.expect("hello")
    assert hello["user"]["id"] == guest_id and secret_keys(hello) == []
    by_query.close()
    by_header.close()


# --- users --------------------------------------------------------------------------


def test_admin_creates_users(server: ServerProcess, admin: Api) -> None:
    r = admin.call("POST", "/api/users/create", {"name": "客服小王", "user_type": "kefu",
                                                  "password": "pw1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True and secret_keys(body) == []
    user = body["data"]["user"]
    assert user["id"] and re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", user["id"])
    assert user["name"] == "客服小王" and user["user_type"] == "kefu"
    # permissions: the role's defaults (kefu/permissions.py, issue 16)
    assert user["max_sessions"] == 5 and user["permissions"] == ["transfer", "end", "take", "notes"]
    assert ISO_Z.match(user["created_at"])
    assert Api.login(server.base, user["id"], "pw1").token
    # a second one gets another generated id
    other = admin.ok("POST", "/api/users/create", {"name": "客服小王", "user_type": "kefu"})
    assert other["user"]["id"] != user["id"]
    # explicit id and settings
    chosen = uid("kehu")
    made = admin.ok("POST", "/api/users/create", {"id": chosen, "name": "客户", "user_type": "kehu",
                                                  "max_sessions": 7})["user"]
    assert made["id"] == chosen and made["max_sessions"] == 7
    assert made["permissions"] == ["end"]  # a kehu's fixed set (issue 16)
    # duplicate id → 409, whatever the rest of the body says
    dup = admin.call("POST", "/api/users/create", {"id": chosen, "name": "又一个",
                                                    "user_type": "kefu"})
    assert_error(dup, 409, "user_exists")
    assert_error(admin.call("POST", "/api/users/create", {"id": "admin", "name": "x",
                                                           "user_type": "admin"}), 409)
    assert admin.ok("GET", f"/api/users/{chosen}")["user"]["name"] == "客户"


def test_only_admin_creates_users(server: ServerProcess, admin: Api) -> None:
    body = {"id": uid("kefu"), "name": "x", "user_type": "kefu"}
    kefu_id = create_user(admin, "kefu")
    kefu = Api.login(server.base, kefu_id, "pw")
    assert_error(kefu.call("POST", "/api/users/create", body), 403)
    _, kehu = admin.guest()
    assert_error(kehu.call("POST", "/api/users/create", body), 403)
    assert_error(httpx.post(server.base + "/api/users/create", json=body), 401)
    assert_error(httpx.post(server.base + "/api/users/create", json=body,
                            headers={"Authorization": "Bearer nope"}), 401)
    # nothing was created by the refused calls
    assert_error(admin.call("GET", f"/api/users/{body['id']}"), 404, "user_not_found")


def test_user_detail_access(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu")
    kefu2_id = create_user(admin, "kefu")
    kefu = Api.login(server.base, kefu_id, "pw")
    kehu_id, kehu = admin.guest()
    kehu2_id, _ = admin.guest()
    # admin: anyone
    for target in (kefu_id, kehu_id, "admin"):
        got = admin.ok("GET", f"/api/users/{target}")
        assert got["user"]["id"] == target and secret_keys(got) == []
    assert admin.ok("GET", f"/api/users/{kefu_id}")["user"]["connections"] == 0
    # self
    assert kefu.ok("GET", f"/api/users/{kefu_id}")["user"]["user_type"] == "kefu"
    assert kehu.ok("GET", f"/api/users/{kehu_id}")["user"]["user_type"] == "kehu"
    # a kehu asking for anyone else: 404, the same as a user that does not exist
    other = assert_error(kehu.call("GET", f"/api/users/{kehu2_id}"), 404, "user_not_found")
    for target in (kefu_id, "admin"):
        assert_error(kehu.call("GET", f"/api/users/{target}"), 404, "user_not_found")
    missing = assert_error(kehu.call("GET", f"/api/users/{uid('ghost')}"), 404)
    assert without_time(other) == without_time(missing)
    # a kefu asking for another user: 403
    assert_error(kefu.call("GET", f"/api/users/{kefu2_id}"), 403)
    assert_error(kefu.call("GET", "/api/users/admin"), 403)
    # no token
    assert_error(httpx.get(f"{server.base}/api/users/{kefu_id}"), 401)


# --- sessions by role ---------------------------------------------------------------


SESSION_VIEWS = ("", "/messages", "/statistics")


def test_sessions_are_visible_to_their_owners_only(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu")
    kefu = Api.login(server.base, kefu_id, "pw")
    other_kefu = Api.login(server.base, create_user(admin, "kefu"), "pw")
    kehu_id, kehu = admin.guest()
    _, other_kehu = admin.guest()
    data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert data["status"] == "assigned"
    sid = f"{kehu_id}:{kefu_id}"
    missing_sid = f"{uid('kehu')}:{uid('kefu')}"
    for view in SESSION_VIEWS:
        path = f"/api/sessions/{sid}{view}"
        for owner in (kehu, kefu, admin):
            r = owner.call("GET", path)
            assert r.status_code == 200, (path, r.text)
        # another kehu: exactly what a missing session looks like
        hidden = assert_error(other_kehu.call("GET", path), 404, "session_not_found")
        missing = assert_error(other_kehu.call("GET", f"/api/sessions/{missing_sid}{view}"), 404)
        assert without_time(hidden) == without_time(missing)
        # another kefu: the same 404
        theirs = assert_error(other_kefu.call("GET", path), 404, "session_not_found")
        assert without_time(theirs) == without_time(missing)
        assert_error(httpx.get(server.base + path), 401)
    assert kehu.ok("GET", f"/api/sessions/{sid}")["session"]["session_id"] == sid
    # ending: another kehu or kefu cannot, and cannot tell the session exists
    assert_error(other_kehu.call("POST", f"/api/sessions/{sid}/end"), 404, "session_not_found")
    assert_error(other_kefu.call("POST", f"/api/sessions/{sid}/end"), 404, "session_not_found")
    # transfer is for kefu and admin: a kehu gets 403, even for its own session
    body = {"to_kefu_id": kefu_id}
    assert_error(kehu.call("POST", f"/api/sessions/{sid}/transfer", body), 403)
    assert_error(other_kefu.call("POST", f"/api/sessions/{sid}/transfer", body), 404,
                 "session_not_found")
    assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "active"


def test_agent_endpoints_refuse_kehu(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu")
    kefu = Api.login(server.base, kefu_id, "pw")
    kehu_id, kehu = admin.guest()
    r = kehu.call("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert_error(r, 403)
    assert_error(kehu.call("POST", f"/api/customer/{kehu_id}/assign", {}), 403)
    assert_error(kehu.call("GET", "/api/kefu/waiting"), 403)
    assert_error(kehu.call("POST", f"/api/kefu/{kefu_id}/switch/{kehu_id}"), 403)
    assert_error(kehu.call("PUT", f"/api/users/{kefu_id}/status", {"status": "busy"}), 403)
    assert_error(httpx.get(server.base + "/api/kefu/waiting"), 401)
    assert_error(httpx.post(f"{server.base}/api/customer/{kehu_id}/assign", json={}), 401)
    waiting = kefu.ok("GET", "/api/kefu/waiting")
    assert set(waiting) >= {"waiting_customers", "total"}
    # the refused assign did nothing: the kehu has no session
    ws = WS(server.ws_url, kehu.token)
    assert ws.expect("hello")["sessions"] == []
    ws.close()


def test_no_secrets_in_ws_hello(server: ServerProcess, admin: Api) -> None:
    kefu_id = create_user(admin, "kefu", password="hunter2-pw")
    kefu = Api.login(server.base, kefu_id, "hunter2-pw")
    ws = WS(server.ws_url, kefu.token)
    hello = ws.expect("hello")
    ws.close()
    assert hello["user"]["id"] == kefu_id
    assert secret_keys(hello) == [] and "hunter2-pw" not in json.dumps(hello)


@pytest.mark.parametrize("path", ["/api/kefu/waiting", "/api/users/admin"])
def test_bad_tokens_are_401(server: ServerProcess, path: str) -> None:
    for header in ("Bearer not-a-token", "Bearer \u00e9t\u00e9"):
        r = httpx.get(server.base + path, headers={"Authorization": header.encode()})
        assert_error(r, 401)


SESSION_KEYS = {"session_id", "kefu_id", "kefu_name", "kehu_id", "kehu_name", "status",
                "created_at", "updated_at", "message_count", "last_message"}
MESSAGE_KEYS = {"id", "from", "to", "content", "content_type", "timestamp", "url"}
STATS_KEYS = {"total_messages", "kefu_messages", "kehu_messages", "avg_response_time_seconds",
              "first_response_time_seconds", "duration_seconds", "satisfaction_score"}


def test_session_replies_have_the_seed_shapes(server: ServerProcess, admin: Api) -> None:
    """Seed 1.2–1.6 as the owners see them, with the transfer and end refusals."""
    kefu_id = create_user(admin, "kefu")
    kefu2_id = create_user(admin, "kefu")
    offline_id = create_user(admin, "kefu")
    kefu, kefu2 = Api.login(server.base, kefu_id, "pw"), Api.login(server.base, kefu2_id, "pw")
    kehu_id, kehu = admin.guest("客户张三")
    admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    sid = f"{kehu_id}:{kefu_id}"
    k, k2, c = WS(server.ws_url, kefu.token), WS(server.ws_url, kefu2.token), WS(server.ws_url,
                                                                                kehu.token)
    try:
        for ws in (k, k2, c):
            ws.expect("hello")
        c.send(type="message", client_msg_id="c1", content="你好，我想咨询一下产品信息")
        c.expect("ack")
        k.expect("message")
        k.send(type="message", session_id=sid, client_msg_id="k1", content="好的，我会处理这个问题")
        k.expect("ack")
        c.expect("message")

        r = kehu.call("GET", f"/api/sessions/{sid}")
        assert r.json()["message"] == "获取会话详情成功"
        detail = r.json()["data"]
        assert set(detail) >= {"session", "participants", "statistics"}
        s = detail["session"]
        assert set(s) >= SESSION_KEYS
        assert (s["session_id"], s["kefu_id"], s["kehu_id"]) == (sid, kefu_id, kehu_id)
        assert s["kehu_name"] == "客户张三" and s["status"] == "active"
        assert s["message_count"] == 2 and s["last_message"] == "好的，我会处理这个问题"
        assert ISO_Z.match(s["created_at"]) and ISO_Z.match(s["updated_at"])
        for who, uid_ in (("kefu", kefu_id), ("kehu", kehu_id)):
            p = detail["participants"][who]
            assert set(p) == {"id", "name", "status", "avatar"} and p["id"] == uid_
            assert p["status"] == "Online"
        assert set(detail["statistics"]) >= {"duration_seconds", "message_count",
                                             "avg_response_time_seconds"}
        assert detail["statistics"]["message_count"] == 2

        r = kehu.call("GET", f"/api/sessions/{sid}/messages")
        assert r.json()["message"] == "获取会话消息成功"
        page = r.json()["data"]
        assert page["session_id"] == sid
        assert [m["content"] for m in page["messages"]] == ["你好，我想咨询一下产品信息",
                                                            "好的，我会处理这个问题"]
        for m in page["messages"]:
            assert set(m) >= MESSAGE_KEYS and ISO_Z.match(m["timestamp"])
            assert m["content_type"] == "Text" and m["url"] is None
        assert [(m["from"], m["to"]) for m in page["messages"]] == [(kehu_id, kefu_id),
                                                                    (kefu_id, kehu_id)]
        assert set(page["pagination"]) >= {"page", "limit", "total", "has_more"}
        assert page["pagination"]["total"] == 2

        r = kefu.call("GET", f"/api/sessions/{sid}/statistics")
        assert r.json()["message"] == "获取会话统计成功"
        stats = r.json()["data"]
        assert stats["session_id"] == sid and set(stats["statistics"]) >= STATS_KEYS
        st = stats["statistics"]
        assert (st["total_messages"], st["kefu_messages"], st["kehu_messages"]) == (2, 1, 1)
        assert st["first_response_time_seconds"] is not None
        assert st["satisfaction_score"] is None

        # transfer (1.4): refusals first
        for target, status, error in ((kefu_id, 409, "transfer_same_kefu"),
                                      (uid("kefu"), 404, "kefu_not_found"),
                                      (offline_id, 409, "kefu_unavailable")):
            r = kefu.call("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": target})
            assert_error(r, status, error)
        r = kefu.call("POST", f"/api/sessions/{sid}/transfer",
                      {"to_kefu_id": kefu2_id, "reason": "专业问题需要转接",
                       "note": "客户询问技术问题"})
        assert r.status_code == 200, r.text
        assert r.json()["message"] == f"会话已成功转接给客服 {kefu2_id}"
        moved = r.json()["data"]
        assert set(moved) >= {"session_id", "from_kefu_id", "to_kefu_id", "transfer_time",
                              "reason", "note"}
        assert (moved["session_id"], moved["from_kefu_id"], moved["to_kefu_id"]) == (
            sid, kefu_id, kefu2_id)
        assert (moved["reason"], moved["note"]) == ("专业问题需要转接", "客户询问技术问题")
        assert ISO_Z.match(moved["transfer_time"])
        assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "transferred"
        assert_error(kefu.call("POST", f"/api/sessions/{sid}/end"), 409, "session_not_active")
        assert_error(kefu.call("POST", f"/api/sessions/{sid}/transfer",
                               {"to_kefu_id": kefu2_id}), 409, "session_not_active")

        # end (1.5)
        new_sid = f"{kehu_id}:{kefu2_id}"
        r = kefu2.call("POST", f"/api/sessions/{new_sid}/end")
        assert r.status_code == 200, r.text
        assert r.json()["message"] == "会话已结束"
        ended = r.json()["data"]
        assert set(ended) >= {"session_id", "ended_at", "duration_seconds", "message_count"}
        assert ended["session_id"] == new_sid and ISO_Z.match(ended["ended_at"])
        assert isinstance(ended["duration_seconds"], int) and ended["message_count"] == 0
        assert_error(kefu2.call("POST", f"/api/sessions/{new_sid}/end"), 409,
                     "session_not_active")
        assert kehu.ok("GET", f"/api/sessions/{new_sid}")["session"]["status"] == "completed"
    finally:
        for ws in (k, k2, c):
            ws.close()
