"""REST error handling (SPEC §3) against the real server: every error is the seed's
envelope with ``error_code`` equal to the HTTP status, never a 500 or a stack trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.contract import assert_error
from tests.helpers import Api, ServerProcess, uid

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Api:
    """One admin login for the module (scrypt per test adds up over ~100 cases)."""
    return Api.login(server.base, "admin", "admin-pass")


@pytest.fixture(scope="module")
def raw(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base, timeout=10)


@pytest.fixture(scope="module")
def session(admin: Api) -> str:
    """A live session with no messages (the admin assigns a guest to an offline kefu)."""
    kefu_id, _ = admin.create_kefu()
    kehu_id, _ = admin.guest()
    data = admin.ok("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": kefu_id})
    assert data["status"] == "assigned"
    return f"{kehu_id}:{kefu_id}"


# --- bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"{bad", b"{\"user_id\": \"a\",}", b"\xff\xfe",
                                     b"NaN-ish", b"{\"a\": 1} trailing"])
def test_malformed_json_is_400(raw: httpx.Client, content: bytes) -> None:
    r = raw.post("/api/auth/login", content=content,
                 headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_malformed_json_on_authenticated_endpoints(admin: Api) -> None:
    for path in ("/api/users/create", f"/api/customer/{uid('kehu')}/assign",
                 "/api/sessions/a:b/transfer"):
        r = admin.call("POST", path, content=b"{oops")
        assert_error(r, 400, "invalid_json")
    r = admin.call("PUT", "/api/users/admin/status", content=b"[1,")
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("content", [b"[]", b"[1, 2]", b"\"text\"", b"42", b"null", b"true"])
def test_body_must_be_an_object(raw: httpx.Client, content: bytes) -> None:
    assert_error(raw.post("/api/auth/login", content=content), 400, details=("body",))


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "user_type": "kefu", "max_sessions": "x"}, "max_sessions"),
    ({"name": "x", "user_type": "kefu", "max_sessions": 0}, "max_sessions"),
    ({"name": "x", "user_type": "kefu", "max_sessions": 101}, "max_sessions"),
    ({"name": "x", "user_type": "kefu", "max_sessions": 2.5}, "max_sessions"),
    ({"name": "x", "user_type": "robot"}, "user_type"),
    ({"name": "x", "user_type": 1}, "user_type"),
    ({"name": "x"}, "user_type"),
    ({"user_type": "kefu"}, "name"),
    ({"name": "", "user_type": "kefu"}, "name"),
    ({"name": "x" * 101, "user_type": "kefu"}, "name"),
    ({"name": ["x"], "user_type": "kefu"}, "name"),
    ({"id": "a:b", "name": "x", "user_type": "kefu"}, "id"),
    ({"id": "a b", "name": "x", "user_type": "kefu"}, "id"),
    ({"id": "x" * 65, "name": "x", "user_type": "kefu"}, "id"),
    ({"id": 5, "name": "x", "user_type": "kefu"}, "id"),
    ({"name": "x", "user_type": "kefu", "password": ""}, "password"),
    ({"name": "x", "user_type": "kefu", "permissions": "all"}, "permissions"),
    ({"name": "x", "user_type": "kefu", "nickname": "y"}, "nickname"),
])
def test_create_user_validation(admin: Api, body: dict[str, Any], field: str) -> None:
    r = admin.call("POST", "/api/users/create", body)
    assert_error(r, 400, details=(field,))


@pytest.mark.parametrize(("path", "body", "field"), [
    pytest.param("/api/users/create", {"name": "x", "user_type": "kefu", "max_sessions": True},
                 "max_sessions", id="max_sessions-true"),
    pytest.param("/api/customer/{ghost}/assign", {"force": "yes"}, "force", id="force-yes"),
    pytest.param("/api/customer/{ghost}/assign", {"force": 1}, "force", id="force-1"),
])
def test_wrong_json_types_are_not_coerced(admin: Api, path: str, body: dict[str, Any],
                                          field: str) -> None:
    """A JSON boolean is not an integer and a string or number is not a boolean (the WS
    frames are strict already); the assign target does not exist, so a coerced body
    shows up as 404 instead of 400 and changes nothing."""
    r = admin.call("POST", path.format(ghost=uid("ghost")), body)
    assert_error(r, 400, details=(field,))


def test_validation_on_other_endpoints(raw: httpx.Client, admin: Api) -> None:
    kehu_id, _ = admin.guest()
    kefu_id, _ = admin.create_kefu()
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", "/api/auth/login", {"user_id": "admin"}, "password"),
        ("POST", "/api/auth/login", {"user_id": 1, "password": "x"}, "user_id"),
        ("POST", "/api/auth/login", {"user_id": "admin", "password": "x", "otp": 1}, "otp"),
        ("POST", "/api/auth/guest", {"name": ""}, "name"),
        ("POST", "/api/auth/guest", {"name": "x", "role": "admin"}, "role"),
        ("POST", f"/api/customer/{kehu_id}/assign", {"priority": "urgent"}, "priority"),
        ("POST", f"/api/customer/{kehu_id}/assign", {"force": "maybe"}, "force"),
        ("POST", f"/api/customer/{kehu_id}/assign", {"kefu_id": ["k"]}, "kefu_id"),
        ("POST", f"/api/customer/{kehu_id}/assign", {"note": "n" * 1001}, "note"),
        ("POST", f"/api/customer/{kehu_id}/assign", {"queue": "vip"}, "queue"),
        ("PUT", f"/api/users/{kefu_id}/status", {"status": "sleeping"}, "status"),
        ("PUT", f"/api/users/{kefu_id}/status", {}, "status"),
        ("PUT", f"/api/users/{kefu_id}/status", {"status": "busy", "until": 1}, "until"),
        ("POST", "/api/sessions/a:b/transfer", {}, "to_kefu_id"),
        ("POST", "/api/sessions/a:b/transfer", {"to_kefu_id": "k", "why": "x"}, "why"),
    ]
    for method, path, body, field in cases:
        api = raw if path.startswith("/api/auth/") else admin.http
        headers = {} if api is raw else {"Authorization": f"Bearer {admin.token}"}
        r = api.request(method, path, json=body, headers=headers)
        assert_error(r, 400, details=(field,))
    # nothing happened: the kehu is neither queued nor assigned
    waiting = admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]
    assert kehu_id not in [w["customer_id"] for w in waiting]


def test_oversize_body_is_413(raw: httpx.Client, admin: Api) -> None:
    big = b"{\"name\": \"" + b"x" * MiB + b"\"}"
    assert_error(raw.post("/api/auth/login", content=big), 413)
    assert_error(raw.post("/api/auth/guest", content=big), 413)
    # streamed without a Content-Length (chunked) is measured too
    assert_error(raw.post("/api/auth/guest", content=iter([big[:1000], big[1000:]])), 413)
    r = admin.call("POST", "/api/users/create", content=big)
    assert_error(r, 413)
    # just under the limit is parsed (and is then a validation error, not a 413)
    near = b"{\"name\": \"" + b"x" * (MiB - 100) + b"\"}"
    assert_error(raw.post("/api/auth/guest", content=near), 400, details=("name",))


# --- paths and methods --------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/api"), ("GET", "/api/"), ("GET", "/api/nope"),
    ("POST", "/api/nope"), ("DELETE", "/api/nope/deeper"), ("GET", "/api/auth"),
    ("GET", "/api/sessions/a:b/nope"), ("PUT", "/api/kefu/x/switch/y/z"),
    ("GET", "/static/../../etc/passwd"), ("GET", "/api/users/a/b/c"),
])
def test_unknown_path_is_404(raw: httpx.Client, method: str, path: str) -> None:
    body = assert_error(raw.request(method, path), 404)
    assert body["message"] == "资源不存在"


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/api/auth/login"), ("GET", "/api/auth/login"), ("PUT", "/api/auth/guest"),
    ("GET", "/api/auth/logout"), ("GET", "/api/users/create"), ("DELETE", "/api/users/create"),
    ("PATCH", "/api/users/admin"), ("POST", "/api/users/admin/status"),
    ("PUT", "/api/sessions/a:b/messages"), ("GET", "/api/sessions/a:b/transfer"),
    ("GET", "/api/sessions/a:b/end"), ("POST", "/api/sessions/a:b/statistics"),
    ("DELETE", "/api/kefu/waiting"), ("GET", "/api/kefu/a/switch/b"),
    ("GET", "/api/customer/x/assign"), ("POST", "/api/system/health"),
])
def test_wrong_method_is_405(raw: httpx.Client, method: str, path: str) -> None:
    body = assert_error(raw.request(method, path), 405)
    assert body["message"] == "不支持的请求方法"


def test_wrong_method_in_english(raw: httpx.Client) -> None:
    r = raw.delete("/api/auth/login", headers={"Accept-Language": "en"})
    assert assert_error(r, 405)["message"] == "Method not allowed"


# --- pagination ---------------------------------------------------------------------


@pytest.mark.parametrize(("query", "field"), [
    ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"),
    ("page=99999999999999999999999", "page"), ("limit=0", "limit"), ("limit=201", "limit"),
    ("limit=-5", "limit"), ("limit=x", "limit"), ("include_system=maybe", "include_system"),
])
def test_bad_pagination_is_400(admin: Api, session: str, query: str, field: str) -> None:
    r = admin.call("GET", f"/api/sessions/{session}/messages?{query}")
    assert_error(r, 400, details=(field,))


def test_pagination_edges_are_accepted(admin: Api, session: str) -> None:
    for query, page, limit in (("", 1, 50), ("limit=1", 1, 1), ("limit=200", 1, 200),
                               ("page=7&limit=3", 7, 3), ("include_system=false", 1, 50)):
        data = admin.ok("GET", f"/api/sessions/{session}/messages?{query}")
        assert data["session_id"] == session and data["messages"] == []
        p = data["pagination"]
        assert (p["page"], p["limit"], p["total"], p["has_more"]) == (page, limit, 0, False)
    # with system messages: the "opened" event, and nothing but system messages
    data = admin.ok("GET", f"/api/sessions/{session}/messages?include_system=true&limit=200")
    assert data["messages"] and {m["from"] for m in data["messages"]} == {"system"}
    assert data["pagination"]["total"] == len(data["messages"])


# --- odd path parameters ------------------------------------------------------------


LONG = "a" * 5000
ODD_PATHS = [
    ("GET", "/api/sessions/%00%ff:x"), ("GET", "/api/sessions/%ff"),
    ("GET", "/api/sessions/%00:%00/messages"), ("GET", "/api/sessions/%E2%80%8B:x/statistics"),
    ("GET", "/api/sessions/a:b:c"), ("GET", "/api/sessions/:"), ("GET", "/api/sessions/%3A"),
    ("GET", "/api/sessions/a%2Fb:c"), ("GET", "/api/sessions/..%2F..%2Fx:y"),
    ("GET", f"/api/sessions/{LONG}:{LONG}"), ("GET", f"/api/sessions/{LONG}:{LONG}/messages"),
    ("POST", f"/api/sessions/{LONG}:{LONG}/end"), ("POST", "/api/sessions/%ff:%fe/end"),
    ("GET", "/api/users/%00"), ("GET", "/api/users/%ff"), ("GET", f"/api/users/{LONG}"),
    ("GET", "/api/users/a%20b"), ("PUT", "/api/users/%ff/status"),
    ("POST", "/api/customer/%00/assign"), ("POST", "/api/customer/%ff/assign"),
    ("POST", f"/api/customer/{LONG}/assign"), ("POST", "/api/customer/a:b/assign"),
    ("POST", "/api/kefu/%ff%00/switch/%00"), ("POST", f"/api/kefu/{LONG}/switch/{LONG}"),
    ("POST", "/api/kefu/%E4%BD%A0/switch/%F0%9F%98%80"),
]


@pytest.mark.parametrize(("method", "path"), ODD_PATHS,
                         ids=[f"{m} {p[:40]}" for m, p in ODD_PATHS])
def test_odd_path_params_are_4xx(admin: Api, method: str, path: str) -> None:
    body = None if method == "GET" else {"status": "busy"} if path.endswith("/status") else {}
    r = admin.call(method, path, body)
    assert 400 <= r.status_code < 500, (method, path[:80], r.status_code, r.text[:300])
    assert_error(r, r.status_code)


def test_odd_session_ids_look_missing(admin: Api) -> None:
    """A malformed session id is the same 404 as a missing one (no parser leaks)."""
    missing = assert_error(admin.call("GET", f"/api/sessions/{uid('kehu')}:{uid('kefu')}"), 404,
                           "session_not_found")
    for sid in ("nocolon", "a:b:c", f"{LONG}:{LONG}", "%00:x"):
        odd = assert_error(admin.call("GET", f"/api/sessions/{sid}"), 404, "session_not_found")
        assert odd["message"] == missing["message"]


# --- language -----------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "message"), [
    (None, "资源不存在"), ("zh-CN,zh;q=0.9,en;q=0.8", "资源不存在"), ("en", "Not found"),
    ("en-US,en;q=0.9", "Not found"), ("EN-gb", "Not found"), ("fr", "资源不存在"),
    ("", "资源不存在"),
])
def test_language_of_messages(raw: httpx.Client, accept: str | None, message: str) -> None:
    headers = {} if accept is None else {"Accept-Language": accept}
    assert assert_error(raw.get("/api/nope", headers=headers), 404)["message"] == message


def test_english_everywhere(raw: httpx.Client, admin: Api) -> None:
    en = {"Accept-Language": "en"}
    assert assert_error(raw.get("/api/kefu/waiting", headers=en), 401)["message"] == \
        "Unauthorized"
    assert assert_error(raw.get("/api/kefu/waiting"), 401)["message"] == "未授权访问"
    r = raw.post("/api/auth/login", json={"user_id": "admin", "password": "bad"}, headers=en)
    assert assert_error(r, 401, "invalid_credentials")["message"] == "Invalid user id or password"
    r = raw.post("/api/auth/login", content=b"{", headers=en)
    assert assert_error(r, 400, "invalid_json")["message"] == "Request body is not valid JSON"
    r = admin.call("POST", "/api/users/create", {"name": "x", "user_type": "robot"}, headers=en)
    assert assert_error(r, 400, details=("user_type",))["message"] == \
        "Invalid request parameters"
    r = admin.call("POST", "/api/users/create", {"name": "x", "user_type": "robot"})
    assert assert_error(r, 400)["message"] == "请求参数错误"
    r = admin.call("GET", f"/api/users/{uid('ghost')}", headers=en)
    assert assert_error(r, 404, "user_not_found")["message"] == "User not found"
    r = admin.call("GET", f"/api/sessions/{uid('a')}:{uid('b')}", headers=en)
    assert assert_error(r, 404, "session_not_found")["message"] == "Session not found"
    r = admin.call("GET", f"/api/sessions/{uid('a')}:{uid('b')}")
    assert assert_error(r, 404, "session_not_found")["message"] == "会话不存在"
    # success messages follow the same header
    ok = raw.post("/api/auth/login", json={"user_id": "admin", "password": "admin-pass"},
                  headers=en)
    assert ok.json()["message"] == "Logged in"
    ok = raw.post("/api/auth/login", json={"user_id": "admin", "password": "admin-pass"})
    assert ok.json()["message"] == "登录成功"


def test_errors_are_never_500_under_a_burst_of_junk(raw: httpx.Client, admin: Api) -> None:
    """A mixed bag of junk in one go; the server still answers normally afterwards."""
    junk: list[tuple[str, str, bytes]] = [
        ("POST", "/api/auth/login", b"\x00" * 100),
        ("POST", "/api/auth/login", "{\"user_id\": \"\ud800\"}".encode("utf-8", "surrogatepass")),
        ("POST", "/api/auth/login", b"{\"user_id\": \"admin\", \"password\": {\"$ne\": 1}}"),
        ("POST", "/api/auth/guest", b"{\"name\": null}"),
        ("POST", "/api/auth/guest", b"{\"name\": \"" + "名".encode() * 101 + b"\"}"),
        ("POST", "/api/auth/login", b"{" * 10000 + b"}" * 10000),
    ]
    for method, path, content in junk:
        r = raw.request(method, path, content=content)
        assert r.status_code < 500, (path, content[:40], r.status_code, r.text[:200])
        if r.status_code >= 400:
            assert_error(r, r.status_code)
    assert admin.ok("GET", "/api/users/admin")["user"]["id"] == "admin"
