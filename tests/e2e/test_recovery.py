"""Process-level recovery: ``kill -9`` of the server and its Redis during traffic, and a
clean SIGTERM. After a restart every acked message is stored exactly once, sessions,
queue and agent load are back, and clients that resume miss nothing."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from tests.helpers import WS, Api, ServerProcess, open_pair


def _redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text().strip())


@pytest.mark.slow
def test_kill9_server_and_redis_during_traffic(tmp_path: Path,
                                               spawned: list[ServerProcess]) -> None:
    data = tmp_path / "srv"
    srv = ServerProcess(data, KEFU_AGENT_GRACE_SECONDS="30").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu(max_sessions=1)
    k = WS(srv.ws_url, kefu.token)
    k.expect("hello")
    pairs = []
    for _ in range(3):  # one assigned, two waiting in the queue
        kehu_id, kehu = admin.guest()
        c = WS(srv.ws_url, kehu.token)
        c.expect("hello")
        c.send(type="request_service")
        c.expect_one_of(("assigned", "queued"))
        pairs.append((kehu_id, kehu, c))
    kehu_id, kehu, c = pairs[0]
    sid = f"{kehu_id}:{kefu_id}"
    queue_before = [w["customer_id"] for w in admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]
    assert queue_before == [pairs[1][0], pairs[2][0]]

    sent: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        i = 0
        while not stop.is_set() and i < 5000:
            cmid = f"k{i}"
            try:
                c.send(type="message", client_msg_id=cmid, content=f"m{i}")
            except Exception:  # noqa: BLE001 - the server died under us
                return
            sent.append(cmid)
            i += 1

    t = threading.Thread(target=traffic)
    t.start()
    c.expect("ack", where=lambda f: f["client_msg_id"] == "k200")
    redis_pid = _redis_pid(data)
    srv.kill9()
    os.kill(redis_pid, signal.SIGKILL)
    stop.set()
    t.join()
    try:
        c.wait_closed(10)
    except AssertionError:
        pass
    acked = {f["client_msg_id"]: f["message"] for f in c.seen if f["type"] == "ack"}
    assert len(acked) >= 200

    srv2 = ServerProcess(data, port=srv.port, KEFU_AGENT_GRACE_SECONDS="30").start()
    spawned.append(srv2)
    admin = Api.login(srv2.base, "admin", "admin-pass")
    # every acked message is stored, exactly once, with seq gap-free
    page = admin.ok("GET", f"/api/sessions/{sid}/messages", params={"limit": 200})
    total = page["pagination"]["total"]
    stored = []
    for p in range(1, (total + 199) // 200 + 1):
        stored += admin.ok("GET", f"/api/sessions/{sid}/messages",
                           params={"limit": 200, "page": p})["messages"]
    assert [m["seq"] for m in stored] == list(range(1, total + 1))
    by_cmid = {m["client_msg_id"]: m for m in stored}
    assert len(by_cmid) == len(stored)  # no duplicates
    for cmid, msg in acked.items():
        assert by_cmid[cmid]["id"] == msg["id"] and by_cmid[cmid]["seq"] == msg["seq"]
    # the queue and the session are as they were
    after = [w["customer_id"] for w in admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]]
    assert after == queue_before
    assert admin.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "active"

    # the client reconnects, resends what was not acked, and resumes
    c2 = WS(srv2.ws_url, kehu.token)
    hello = c2.expect("hello")
    assert [s["session_id"] for s in hello["sessions"]] == [sid]
    unacked = [cmid for cmid in sent if cmid not in acked]
    for cmid in unacked:
        c2.send(type="message", client_msg_id=cmid, content=f"m{cmid[1:]}")
    missing = set(unacked)
    while missing:
        f = c2.expect_one_of(("ack", "error"))
        assert f["type"] == "ack", f
        missing.discard(f["client_msg_id"])
    final = admin.ok("GET", f"/api/sessions/{sid}")["session"]["message_count"]
    assert final == len(sent)  # each sent message stored exactly once
    k2 = WS(srv2.ws_url, kefu.token)
    k2.expect("hello")
    k2.send(type="resume", since={sid: 0})
    assert k2.expect("resumed", timeout=20)["count"] == len(sent)
    for ws in (c2, k2):
        ws.close()


def test_sigterm_tells_clients_and_exits_zero(fresh_server: ServerProcess) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    _, kehu = admin.guest()
    c = WS(fresh_server.ws_url, kehu.token)
    c.expect("hello")
    assert fresh_server.terminate() == 0
    assert c.expect("server_closing")["reconnect"] is True
    assert c.wait_closed() == 1001


def test_agent_grace_period_requeues_at_front(fresh_server: ServerProcess) -> None:
    admin = Api.login(fresh_server.base, "admin", "admin-pass")
    pair = open_pair(fresh_server, admin, max_sessions=1)
    kefu_id, kefu, kehu_id, k, c, sid = (pair.kefu_id, pair.kefu, pair.kehu_id, pair.k,
                                         pair.c, pair.sid)
    _, other = admin.guest()
    o = WS(fresh_server.ws_url, other.token)
    o.expect("hello")
    o.send(type="request_service", priority="high")
    assert o.expect("queued")["position"] == 1
    k.close()
    presence = c.expect("presence")
    assert presence["user_id"] == kefu_id and presence["status"] == "offline"
    ended = c.expect("session_ended", timeout=15)  # KEFU_AGENT_GRACE_SECONDS=2
    assert ended["session_id"] == sid and ended["reason"] == "agent_offline"
    assert c.expect("queued")["position"] == 1  # ahead of the high-priority newcomer
    waiting = admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]
    assert [w["customer_id"] for w in waiting][0] == kehu_id
    # the agent comes back: its old customer is assigned first, reopening the session
    k2 = WS(fresh_server.ws_url, kefu.token)
    k2.expect("hello")
    assert c.expect("assigned")["session"]["session_id"] == sid
    for ws in (c, o, k2):
        ws.close()
