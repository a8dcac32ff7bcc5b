"""The whole flow over real HTTP and WebSockets against the real server process."""

from __future__ import annotations

from tests.helpers import WS, Api, ServerProcess, uid


def test_full_conversation(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu("客服小王")
    kefu2_id, kefu2 = admin.create_kefu("客服小李")
    kehu_id, kehu = admin.guest("客户张三")

    k1 = WS(server.ws_url, kefu.token)
    hello = k1.expect("hello")
    assert hello["user"]["id"] == kefu_id and hello["sessions"] == []
    k2 = WS(server.ws_url, kefu2.token)
    k2.expect("hello")
    # kefu2 is busy so the first kefu gets the customer
    kefu2.ok("PUT", f"/api/users/{kefu2_id}/status", {"status": "busy"})

    c = WS(server.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="c1", content="你好，我想咨询一下产品信息")
    assigned = c.expect("assigned")
    sid = assigned["session"]["session_id"]
    assert sid == f"{kehu_id}:{kefu_id}"
    ack = c.expect("ack")
    assert ack["client_msg_id"] == "c1"
    assert ack["message"]["seq"] == 1 and ack["message"]["session_id"] == sid
    assert ack["message"]["from"] == kehu_id and ack["message"]["to"] == kefu_id

    k1.expect("assigned")
    got = k1.expect("message")
    assert got["message"]["content"] == "你好，我想咨询一下产品信息"

    # the kefu answers without naming the session: it goes to its focused customer
    k1.send(type="message", client_msg_id="k1", content="您好，请问有什么可以帮您？")
    assert k1.expect("ack")["message"]["seq"] == 2
    reply = c.expect("message")
    assert reply["message"]["from"] == kefu_id and reply["message"]["seq"] == 2

    # read marks, typing and ping are relayed
    c.send(type="read", session_id=sid, seq=2)
    assert k1.expect("read")["seq"] == 2
    c.send(type="typing", session_id=sid)
    assert k1.expect("typing")["user_id"] == kehu_id
    c.send(type="ping")
    c.expect("pong")

    # REST views of the session, with the seed's shapes
    detail = kefu.ok("GET", f"/api/sessions/{sid}")
    assert detail["session"]["status"] == "active"
    # both read marks (a kefu's own message marks everything before it read)
    assert detail["session"]["read"] == {"kehu": 2, "kefu": 2}
    again = WS(server.ws_url, kefu.token)  # a reloaded console learns them from hello
    try:
        mine = [s for s in again.expect("hello")["sessions"] if s["session_id"] == sid]
        assert mine and mine[0]["read"] == {"kehu": 2, "kefu": 2}
    finally:
        again.close()
    assert detail["session"]["message_count"] == 2
    assert detail["participants"]["kehu"]["status"] == "Online"
    page = kefu.ok("GET", f"/api/sessions/{sid}/messages")
    assert [m["seq"] for m in page["messages"]] == [1, 2]
    assert page["pagination"] == {"page": 1, "limit": 50, "total": 2, "total_pages": 1,
                                  "has_more": False}
    stats = kefu.ok("GET", f"/api/sessions/{sid}/statistics")["statistics"]
    assert stats["kehu_messages"] == 1 and stats["kefu_messages"] == 1
    assert stats["first_response_time_seconds"] is not None

    # transfer: everyone is told, the new kefu reads the old history
    kefu2.ok("PUT", f"/api/users/{kefu2_id}/status", {"status": "online"})
    data = kefu.ok("POST", f"/api/sessions/{sid}/transfer",
                   {"to_kefu_id": kefu2_id, "reason": "专业问题需要转接", "note": "技术问题"})
    assert data["from_kefu_id"] == kefu_id and data["to_kefu_id"] == kefu2_id
    new_sid = f"{kehu_id}:{kefu2_id}"
    for ws in (c, k1, k2):
        t = ws.expect("transferred")
        assert t["new_session_id"] == new_sid and t["reason"] == "专业问题需要转接"
    old = kefu2.ok("GET", f"/api/sessions/{sid}/messages")
    assert len(old["messages"]) == 2
    assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "transferred"

    c.send(type="message", client_msg_id="c2", content="还在吗")
    assert c.expect("ack")["message"]["session_id"] == new_sid
    assert k2.expect("message")["message"]["content"] == "还在吗"

    # end and rate
    ended = kefu2.ok("POST", f"/api/sessions/{new_sid}/end")
    assert ended["message_count"] == 1
    assert c.expect("session_ended")["session_id"] == new_sid
    c.send(type="rate", session_id=new_sid, score=5, comment="很好")
    assert c.expect("rated")["score"] == 5
    stats = kefu2.ok("GET", f"/api/sessions/{new_sid}/statistics")["statistics"]
    assert stats["satisfaction_score"] == 5.0
    for ws in (c, k1, k2):
        ws.close()


def test_bad_token_is_refused(server: ServerProcess) -> None:
    ws = WS(server.ws_url, "not-a-token")
    assert ws.wait_closed() == 4401
    ws = WS(server.ws_url, None)
    assert ws.wait_closed() == 4401


def test_bad_frames_get_errors_and_connection_stays(server: ServerProcess, admin: Api) -> None:
    _, kehu = admin.guest()
    c = WS(server.ws_url, kehu.token)
    c.expect("hello")
    c.sock.send("{not json")
    assert c.expect("error")["code"] == "invalid_json"
    c.send(type="dance")
    assert c.expect("error")["code"] == "unknown_type"
    c.send(type="message", content="x")
    err = c.expect("error")
    assert err["code"] == "bad_frame" and "client_msg_id" in err["details"]
    c.send(type="message", client_msg_id="m", content="x" * 4001)
    assert c.expect("error")["code"] == "content_too_long"
    c.send(type="read", session_id="somebody:else", seq="a")
    assert c.expect("error")["code"] == "bad_frame"
    c.send(type="read", session_id=f"{uid('kehu')}:kefu_x", seq=1)
    assert c.expect("error")["code"] == "session_not_found"
    c.send(type="ping")
    c.expect("pong")
    c.close()
