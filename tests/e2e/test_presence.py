"""Several connections of one user, presence, and idle sessions ending by themselves."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import WS, Api, ServerProcess, open_pair


def test_every_tab_of_a_user_gets_its_events(server: ServerProcess, admin: Api) -> None:
    kefu_id, kefu = admin.create_kefu()
    tab1 = WS(server.ws_url, kefu.token)
    tab1.expect("hello")
    tab2 = WS(server.ws_url, kefu.token)
    tab2.expect("hello")
    kehu_id, kehu = admin.guest()
    c = WS(server.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="h", content="hi")
    sid = tab1.expect("assigned")["session"]["session_id"]
    assert tab2.expect("assigned")["session"]["session_id"] == sid
    assert tab1.expect("message")["message"]["content"] == "hi"
    assert tab2.expect("message")["message"]["content"] == "hi"
    # tab1 sends: tab1 gets the ack, tab2 and the kehu get the message
    tab1.send(type="message", session_id=sid, client_msg_id="t1", content="hello")
    assert tab1.expect("ack")["message"]["seq"] == 2
    assert tab2.expect("message")["message"]["seq"] == 2
    assert c.expect("message")["message"]["seq"] == 2
    # switching in one tab is followed by the other
    tab1.send(type="switch", customer_id=kehu_id)
    assert tab2.expect("switched")["customer_id"] == kehu_id
    # the agent stays online while one tab is open
    tab1.close()
    tab2.send(type="ping")
    tab2.expect("pong")
    assert not [f for f in c.drain() if f["type"] == "presence"]
    tab2.close()
    assert c.expect("presence")["status"] == "offline"
    c.close()


def test_idle_session_ends_by_itself(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_SESSION_IDLE_SECONDS="1", KEFU_TICK_SECONDS="0.2",
                        KEFU_SESSION_TICK_EVERY="1").start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        pair = open_pair(srv, admin)
        c, k, sid = pair.c, pair.k, pair.sid
        ended = c.expect("session_ended", timeout=10)
        assert ended["session_id"] == sid and ended["reason"] == "idle"
        assert k.expect("session_ended")["reason"] == "idle"
        assert admin.ok("GET", f"/api/sessions/{sid}")["session"]["status"] == "completed"
        c.close()
        k.close()
    finally:
        srv.stop()
