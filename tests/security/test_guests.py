"""Guests expire (issue 10, item 8): a guest idle past ``KEFU_GUEST_TTL_DAYS`` is removed
with its tokens, unless it is connected, in an active session or waiting; its history
stays readable by agents and admins. Guest creation has a global budget per minute
besides the per-address one."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.helpers import WS, Api, ServerProcess, clear_of_minute_end, connect, open_pair

TTL_DAYS = 1.5 / 86_400  # 1.5 s


def gone(api: Api, user_id: str) -> bool:
    return api.call("GET", f"/api/users/{user_id}").status_code == 401


def test_idle_guests_are_removed_and_their_history_stays(
        tmp_path: Path, spawned: list[ServerProcess], sockets: list[WS]) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_GUEST_TTL_DAYS=str(TTL_DAYS),
                        KEFU_GUEST_SWEEP_SECONDS="0.2").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    idle_id, idle = admin.guest("闲置访客")
    idle.ok("POST", "/api/widget/prechat", {"attributes": {"plan": "trial"}})  # a profile
    pair = open_pair(srv, admin)  # a guest that chatted, then left
    sockets += [pair.c, pair.k]
    pair.c.send(type="message", client_msg_id="c1", content="你好")
    pair.c.expect("ack")
    pair.kefu.ok("POST", f"/api/sessions/{pair.sid}/end")
    pair.c.close()
    live_id, live = admin.guest("在线访客")
    connect(srv, live, sockets)  # connected the whole time
    busy = open_pair(srv, admin)  # in an active session the whole time
    sockets += [busy.c, busy.k]
    busy.c.close()

    def exists(user_id: str) -> bool:  # asked by the admin: a guest's own call is activity
        return admin.call("GET", f"/api/users/{user_id}").status_code == 200

    deadline = time.monotonic() + 15
    while exists(idle_id) or exists(pair.kehu_id):
        assert time.monotonic() < deadline, "idle guests were not removed"
        time.sleep(0.1)  # polling the server process over HTTP
    assert gone(idle, idle_id) and gone(pair.kehu, pair.kehu_id)  # their tokens too
    # the history of the removed guest stays, for the agent and the admin
    for api in (admin, pair.kefu):
        page = api.ok("GET", f"/api/sessions/{pair.sid}/messages")
        assert [m["content"] for m in page["messages"]] == ["你好"]
    assert admin.ok("GET", f"/api/sessions/{pair.sid}")["session"]["kehu_name"] == "访客"
    # the connected one and the one in a session were kept (and still work)
    assert not gone(live, live_id) and not gone(busy.kehu, busy.kehu_id)
    r = srv.redis_client()
    try:
        leftovers = [k for k in r.scan_iter(match=f"kefu:user:{idle_id}*")]
        leftovers += [k for k in r.scan_iter(match=f"kefu:customer:{idle_id}*")]  # issue 15
        assert leftovers == []
        assert r.zscore("kefu:users", idle_id) is None
        assert r.zscore("kefu:guests:seen", live_id) is not None
    finally:
        r.close()
    logs = admin.ok("GET", "/api/system/logs", params={"limit": 200})["logs"]
    assert sum(e["fields"]["removed"] for e in logs if e["event"] == "guests_expired") >= 2


def test_guest_creation_has_a_global_budget(tmp_path: Path,
                                            spawned: list[ServerProcess]) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_GUEST_GLOBAL_RATE_PER_MINUTE="5",
                        KEFU_GUEST_RATE_PER_MINUTE="100", KEFU_TRUSTED_PROXIES="127.0.0.1")
    spawned.append(srv.start())
    clear_of_minute_end()
    codes = [httpx.post(srv.base + "/api/auth/guest", json={},
                        headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(1, 8)]
    assert codes == [200] * 5 + [429, 429]  # every visitor on its own address, still capped
    r = httpx.post(srv.base + "/api/auth/guest", json={})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
