"""Redis going away (SPEC §6): requests fail fast with 503, nothing is acked that was not
stored, and service resumes by itself when Redis returns."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers import WS, Api, RedisServer, ServerProcess


def test_outage_fails_fast_and_recovers(tmp_path: Path) -> None:
    rs = RedisServer(tmp_path / "redis", aof=True).start()
    srv = ServerProcess(tmp_path / "srv", KEFU_REDIS_URL=rs.url).start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        _, kefu = admin.create_kefu()
        k = WS(srv.ws_url, kefu.token)
        k.expect("hello")
        _, kehu = admin.guest()
        c = WS(srv.ws_url, kehu.token)
        c.expect("hello")
        c.send(type="message", client_msg_id="before", content="1")
        sid = c.expect("ack")["message"]["session_id"]

        rs.stop()
        started = time.monotonic()
        r = admin.call("GET", f"/api/sessions/{sid}")
        assert r.status_code == 503 and r.json()["error_code"] == 503
        assert admin.call("GET", "/api/system/health").status_code == 503
        assert time.monotonic() - started < 5  # fails fast, never hangs
        c.send(type="message", client_msg_id="during", content="2")
        err = c.expect_one_of(("ack", "error"))
        assert err["type"] == "error" and err["code"] == "storage_unavailable"
        assert err["ref"] == "during"

        rs.start()  # Redis returns (its AOF brings the data back)
        assert admin.call("GET", "/api/system/health").status_code == 200
        c.send(type="message", client_msg_id="during", content="2")  # the client resends
        ack = c.expect("ack", where=lambda f: f["client_msg_id"] == "during")
        assert ack["message"]["seq"] == 2
        page = admin.ok("GET", f"/api/sessions/{sid}/messages")
        assert [m["client_msg_id"] for m in page["messages"]] == ["before", "during"]
        c.close()
        k.close()
    finally:
        srv.stop()
        rs.stop()
