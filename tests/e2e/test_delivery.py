"""The delivery promise end to end: ack after storage, gap-free seq, dedup of resends,
resume after a reconnect, and messages kept while a kehu waits."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess, open_pair


def _pair(server: ServerProcess, admin: Api) -> tuple[str, Api, WS, str, Api, WS, str]:
    p = open_pair(server, admin)
    return p.kefu_id, p.kefu, p.k, p.kehu_id, p.kehu, p.c, p.sid


def test_dedup_of_resends(server: ServerProcess, admin: Api) -> None:
    _, kefu, k, _, _, c, sid = _pair(server, admin)
    acks = {}
    for i in range(5):
        c.send(type="message", client_msg_id=f"m{i}", content=f"消息{i}")
        ack = c.expect("ack", where=lambda f, i=i: f["client_msg_id"] == f"m{i}")
        acks[i] = ack["message"]
    assert [acks[i]["seq"] for i in range(5)] == [1, 2, 3, 4, 5]
    # a resend (same client_msg_id, even with other content) gets the same ack
    c.send(type="message", client_msg_id="m2", content="消息2")
    again = c.expect("ack", where=lambda f: f["client_msg_id"] == "m2")
    assert again["message"] == acks[2]
    # resend immediately after the original, before its ack could have arrived
    c.send(type="message", client_msg_id="m5", content="x")
    c.send(type="message", client_msg_id="m5", content="x")
    a1 = c.expect("ack", where=lambda f: f["client_msg_id"] == "m5")
    a2 = c.expect("ack", where=lambda f: f["client_msg_id"] == "m5")
    assert a1["message"]["id"] == a2["message"]["id"] and a1["message"]["seq"] == 6
    page = kefu.ok("GET", f"/api/sessions/{sid}/messages")
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5, 6]
    assert page["pagination"]["total"] == 6
    # the kefu saw each message exactly once
    k.drain()
    seen = [f["message"]["seq"] for f in k.seen if f["type"] == "message"]
    while len(seen) < 6:
        seen.append(k.expect("message")["message"]["seq"])
    assert sorted(seen) == [1, 2, 3, 4, 5, 6] and len(set(seen)) == 6
    c.close()
    k.close()


def test_resume_replays_exactly_the_missed_messages(server: ServerProcess, admin: Api) -> None:
    _, kefu, k, _, _, c, sid = _pair(server, admin)
    for i in range(3):
        c.send(type="message", client_msg_id=f"a{i}", content=f"a{i}")
        c.expect("ack", where=lambda f, i=i: f["client_msg_id"] == f"a{i}")
    for _ in range(3):
        k.expect("message")
    k.close()
    for i in range(4):
        c.send(type="message", client_msg_id=f"b{i}", content=f"b{i}")
        c.expect("ack", where=lambda f, i=i: f["client_msg_id"] == f"b{i}")
    k2 = WS(server.ws_url, kefu.token)
    hello = k2.expect("hello")
    assert [s["session_id"] for s in hello["sessions"]] == [sid]
    assert hello["sessions"][0]["last_seq"] == 7
    k2.send(type="resume", since={sid: 3})
    resumed = k2.expect("resumed")
    got = [f["message"]["seq"] for f in k2.seen if f["type"] == "message"]
    assert got == [4, 5, 6, 7]
    assert resumed["count"] == 4 and resumed["last_seq"] == 7
    # resuming again from the same point sends nothing twice on this connection
    k2.send(type="resume", since={sid: 3})
    assert k2.expect("resumed")["count"] == 0
    # live traffic after the resume arrives once
    c.send(type="message", client_msg_id="c0", content="live")
    assert k2.expect("message")["message"]["seq"] == 8
    # someone else's session is refused
    k2.send(type="resume", since={"kehu_other:kefu_other": 0})
    assert k2.expect("error")["code"] == "session_not_found"
    c.close()
    k2.close()


def test_messages_sent_while_waiting_are_delivered_on_assignment(
        fresh_server: ServerProcess) -> None:
    srv = fresh_server
    admin = Api.login(srv.base, "admin", "admin-pass")
    kefu_id, kefu = admin.create_kefu()
    kehu_id, kehu = admin.guest()
    c = WS(srv.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="w1", content="有人吗")
    queued = c.expect("queued")
    # its agent is not connected: no seat online, so no wait is promised (issue 15)
    assert queued["position"] == 1 and queued["estimated_wait_seconds"] is None
    ack = c.expect("ack")
    assert ack["message"]["seq"] is None and ack["message"]["session_id"] is None
    c.send(type="message", client_msg_id="w2", content="在线等")
    c.expect("ack", where=lambda f: f["client_msg_id"] == "w2")
    c.send(type="message", client_msg_id="w1", content="有人吗")  # a resend while waiting
    assert c.expect("ack", where=lambda f: f["client_msg_id"] == "w1")["message"]["id"] == \
        ack["message"]["id"]
    waiting = admin.ok("GET", "/api/kefu/waiting")
    assert waiting["waiting_customers"][0]["customer_id"] == kehu_id
    assert isinstance(waiting["waiting_customers"][0]["waiting_since"], int)

    k = WS(srv.ws_url, kefu.token)  # the agent comes online: assigned at once
    k.expect("hello")
    assigned = k.expect("assigned")
    sid = assigned["session"]["session_id"]
    contents = [k.expect("message")["message"] for _ in range(2)]
    assert [(m["seq"], m["content"]) for m in contents] == [(1, "有人吗"), (2, "在线等")]
    assert contents[0]["id"] == ack["message"]["id"]
    c.expect("assigned")
    assert [c.expect("message")["message"]["seq"] for _ in range(2)] == [1, 2]
    page = kefu.ok("GET", f"/api/sessions/{sid}/messages")
    assert page["pagination"]["total"] == 2
    c.close()
    k.close()
