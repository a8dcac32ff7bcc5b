"""Redis going away (SPEC §6): requests fail fast with 503, nothing is acked that was not
stored, and service resumes by itself when Redis returns."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from kefu.persistence.embedded import find_redis_server
from tests.helpers import WS, Api, ServerProcess


def _start_redis(data: Path) -> subprocess.Popen[bytes]:
    sock = data / "r.sock"
    proc = subprocess.Popen([find_redis_server(), "--port", "0", "--unixsocket", str(sock),
                             "--dir", str(data), "--appendonly", "yes", "--save", ""],
                            stdout=subprocess.DEVNULL)
    client = redis.Redis(unix_socket_path=str(sock))
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # waiting for a child process to listen, not for an actor


def test_outage_fails_fast_and_recovers(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    data.mkdir()
    rproc = _start_redis(data)
    srv = ServerProcess(tmp_path / "srv", KEFU_REDIS_URL=f"unix://{data / 'r.sock'}").start()
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

        rproc.terminate()
        rproc.wait(10)
        started = time.monotonic()
        r = admin.call("GET", f"/api/sessions/{sid}")
        assert r.status_code == 503 and r.json()["error_code"] == 503
        assert admin.call("GET", "/api/system/health").status_code == 503
        assert time.monotonic() - started < 5  # fails fast, never hangs
        c.send(type="message", client_msg_id="during", content="2")
        err = c.expect_one_of(("ack", "error"))
        assert err["type"] == "error" and err["code"] == "storage_unavailable"
        assert err["ref"] == "during"

        rproc = _start_redis(data)  # Redis returns (its AOF brings the data back)
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
        rproc.terminate()
        rproc.wait(10)
