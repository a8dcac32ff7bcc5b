"""The audit trail: every admin request that changes something leaves an entry (who,
what, target, when, request id — the reply's ``X-Request-Id``), readable by admins only
at ``GET /api/admin/audit``, newest first, paged."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from kefu.domain import parse_iso
from kefu.http.app import routes
from kefu.http.openapi import documented_methods, path_template
from tests.contract import assert_error
from tests.helpers import Api, ServerProcess, open_pair, uid

# no caller yet: nothing to attribute
PUBLIC = {"/api/auth/login", "/api/auth/guest", "/api/auth/identify"}
GHOST = "ghost_zz"


def audit(admin: Api, **params: Any) -> dict[str, Any]:
    return admin.ok("GET", "/api/admin/audit", params={"limit": 200, **params})


def entry_for(admin: Api, request_id: str) -> dict[str, Any]:
    found = [e for e in audit(admin)["entries"] if e["request_id"] == request_id]
    assert len(found) == 1, (request_id, found)
    return found[0]


def admin_writes() -> list[tuple[str, str, str]]:
    """(METHOD, concrete path, action template) for every non-GET route method."""
    state = SimpleNamespace(settings=SimpleNamespace(fault_injection=True))
    out = []
    for pattern, handler, _ in routes(state):  # type: ignore[arg-type]
        for method, func in documented_methods(handler):
            api_doc = getattr(func, "__openapi__", None)
            roles = api_doc.roles if api_doc is not None else ("admin",)
            if method == "get" or pattern in PUBLIC or (roles and "admin" not in roles):
                continue  # (a customer's own write, e.g. leaving a message: not an admin's)
            names = func.__openapi__.path_params  # type: ignore[attr-defined]
            template = path_template(pattern, names)
            path = re.sub(r"\{[^}]+\}", GHOST, template)
            out.append((method.upper(), path, f"{method.upper()} {template}"))
    return out


def test_every_admin_write_is_audited(server: ServerProcess, admin: Api) -> None:
    """Each non-GET endpoint, called by an admin (with an empty body and ghost ids: a
    refusal is an action too), has exactly one entry with its request id."""
    writes = admin_writes()
    assert len(writes) >= 15, writes
    calls = []
    for method, path, action in writes:
        caller = Api.login(server.base, "admin", "admin-pass") if "logout" in path else admin
        started = time.time()
        r = caller.call(method, path, {})
        assert r.status_code < 500, (method, path, r.text)
        calls.append((method, path, action, r, started))
    for _method, path, action, r, started in calls:
        e = entry_for(admin, r.headers["X-Request-Id"])
        assert (e["by"], e["role"], e["action"], e["path"]) == ("admin", "admin", action, path)
        assert e["status"] == r.status_code
        if "{" in action:  # the path's ids (else the id the reply names, if any)
            assert e["target"] == "/".join([GHOST] * action.count("{")), e
        assert started - 5 <= parse_iso(e["at"]) <= time.time() + 5
        assert e["ip"] == "127.0.0.1"


def test_real_actions_name_their_target_and_mask_secrets(server: ServerProcess,
                                                         admin: Api) -> None:
    user_id = uid("kefu")
    r = admin.call("POST", "/api/users/create", {"id": user_id, "name": "a", "password":
                                                 "very-secret", "user_type": "kefu"})
    e = entry_for(admin, r.headers["X-Request-Id"])
    assert (e["action"], e["target"], e["status"]) == ("POST /api/users/create", user_id, 201)
    assert e["detail"] == {"body": {"id": user_id, "name": "a", "user_type": "kefu"},
                           "redacted": ["password"]}
    r = admin.call("PUT", f"/api/users/{user_id}", {"password": "other-secret"})
    e = entry_for(admin, r.headers["X-Request-Id"])
    assert e["action"] == "PUT /api/users/{user_id}" and e["target"] == user_id
    assert "other-secret" not in str(audit(admin))
    # a generated id is named from the reply
    r = admin.call("POST", "/api/users/create", {"name": "gen", "user_type": "kehu"})
    assert entry_for(admin, r.headers["X-Request-Id"])["target"] == r.json()["data"]["user"]["id"]
    r = admin.call("PUT", "/api/system/maintenance", {"enabled": False})
    e = entry_for(admin, r.headers["X-Request-Id"])
    assert e["detail"]["body"] == {"enabled": False} and e["status"] == 200
    r = admin.call("DELETE", f"/api/users/{user_id}")
    assert entry_for(admin, r.headers["X-Request-Id"])["target"] == user_id


def test_session_and_message_actions(server: ServerProcess, admin: Api) -> None:
    pair = open_pair(server, admin)
    try:
        pair.c.send(type="message", client_msg_id="m1", content="to be deleted")
        msg_id = pair.c.expect("ack")["message"]["id"]
        r = admin.call("DELETE", f"/api/messages/{msg_id}")
        assert r.status_code == 200
        e = entry_for(admin, r.headers["X-Request-Id"])
        assert (e["action"], e["target"]) == ("DELETE /api/messages/{message_id}", msg_id)
        # the tombstone's own entry, written with it
        assert any(x["action"] == "message.delete" and x["target"] == msg_id
                   and x["by"] == "admin" for x in audit(admin)["entries"])
        r = admin.call("POST", f"/api/sessions/{pair.sid}/end")
        assert r.status_code == 200
        assert entry_for(admin, r.headers["X-Request-Id"])["target"] == pair.sid
        # the kefu's own writes are not admin actions
        before = audit(admin)["pagination"]["total"]
        pair.kefu.ok("PUT", f"/api/users/{pair.kefu_id}/status", {"status": "away"})
        entries = audit(admin)["entries"]
        assert all(x["by"] != pair.kefu_id for x in entries)
        assert audit(admin)["pagination"]["total"] == before
    finally:
        pair.close()


def test_audit_is_admin_only_and_paged(server: ServerProcess, admin: Api) -> None:
    assert_error(httpx.get(server.base + "/api/admin/audit"), 401)
    _, kefu = admin.create_kefu()
    _, kehu = admin.guest()
    for api in (kefu, kehu):
        assert_error(api.call("GET", "/api/admin/audit"), 403)
    for i in range(3):
        admin.ok("PUT", "/api/system/maintenance", {"enabled": False, "message": f"p{i}"})
    first = admin.ok("GET", "/api/admin/audit", params={"limit": 2, "page": 1})
    second = admin.ok("GET", "/api/admin/audit", params={"limit": 2, "page": 2})
    assert [e["detail"]["body"]["message"] for e in first["entries"]] == ["p2", "p1"]
    assert second["entries"][0]["detail"]["body"]["message"] == "p0"
    total = first["pagination"]["total"]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": total,
                                   "total_pages": (total + 1) // 2}
    ids = [e["id"] for e in audit(admin)["entries"]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))), reverse=True)
    assert_error(admin.call("GET", "/api/admin/audit", params={"limit": 0}), 400)


def test_every_reply_has_its_own_request_id(server: ServerProcess, admin: Api) -> None:
    replies = [admin.call("GET", "/api/system/health"), admin.call("GET", "/api/nope"),
               httpx.post(server.base + "/api/auth/login", content=b"{")]
    ids = [r.headers["X-Request-Id"] for r in replies]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == 3


def test_the_audit_log_survives_a_flush(tmp_path: Path) -> None:
    """A flush deletes the project's keys, but not the record of who did what — the flush
    itself included."""
    srv = ServerProcess(tmp_path / "srv").start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        before = admin.call("PUT", "/api/system/maintenance", {"enabled": False})
        flush = admin.call("POST", "/api/redis/flush", {"confirm": "FLUSH"})
        assert flush.status_code == 200, flush.text
        assert entry_for(admin, before.headers["X-Request-Id"])["status"] == 200
        e = entry_for(admin, flush.headers["X-Request-Id"])
        assert (e["action"], e["status"]) == ("POST /api/redis/flush", 200)
    finally:
        srv.stop()
