"""The embedded Redis dies (issue 10, item 2): the server reaps the child at once (no
zombie), starts it again on its AOF with backoff, logs each step as a system event, and
service resumes by itself with every acked message there. If Redis cannot be started
again, the server exits non-zero, so that a process supervisor restarts the service."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from kefu.testing.processes import wait_health
from tests.helpers import WS, Api, ServerProcess, open_pair


def zombies_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == pid:
                out.append(int(entry))
    return out


def redis_pid(srv: ServerProcess) -> int:
    return int((srv.data_dir / "redis" / "redis.pid").read_text())


def test_a_killed_redis_is_restarted_and_nothing_acked_is_lost(
        tmp_path: Path, spawned: list[ServerProcess], sockets: list[WS]) -> None:
    srv = ServerProcess(tmp_path / "srv").start()
    spawned.append(srv)
    assert srv.proc is not None
    admin = Api.login(srv.base, "admin", "admin-pass")
    pair = open_pair(srv, admin)
    sockets += [pair.c, pair.k]
    for i in range(20):
        pair.c.send(type="message", client_msg_id=f"a{i}", content=f"消息 {i}")
    acked = [pair.c.expect("ack")["message"]["seq"] for _ in range(20)]
    old = redis_pid(srv)
    os.kill(old, signal.SIGKILL)
    started = time.monotonic()
    deadline = started + 20
    while not (srv.data_dir / "redis" / "redis.pid").exists() or redis_pid(srv) == old:
        assert time.monotonic() < deadline, "Redis was not started again"
        time.sleep(0.01)  # polling the child's pid file
    wait_health(srv.base, 200, 20)  # back by itself
    back = time.monotonic() - started
    assert srv.proc.poll() is None  # the same server process
    assert redis_pid(srv) != old and not Path(f"/proc/{old}").exists()  # reaped
    assert zombies_of(srv.proc.pid) == []
    pair.c.send(type="message", client_msg_id="after", content="恢复后")
    assert pair.c.expect("ack", where=lambda f: f["client_msg_id"] == "after")[
        "message"]["seq"] == 21
    page = admin.ok("GET", f"/api/sessions/{pair.sid}/messages", params={"limit": 50})
    assert [m["seq"] for m in page["messages"]] == acked + [21]
    deadline = time.monotonic() + 10
    while True:  # the watcher thread logs after Redis answers again: re-read the log
        events = [e["event"] for e in admin.ok("GET", "/api/system/logs",
                                               params={"limit": 100})["logs"]
                  if e["actor"] == "redis"]
        if {"redis_exited", "redis_restarted"} <= set(events):
            break
        assert time.monotonic() < deadline, events
        time.sleep(0.05)  # polling the server's log over HTTP
    print(f"\nembedded Redis killed: health 200 again after {back:.2f} s")


def test_a_redis_that_cannot_start_again_makes_the_server_exit_non_zero(
        tmp_path: Path, spawned: list[ServerProcess]) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_REDIS_RESTART_TRIES="2").start()
    spawned.append(srv)
    assert srv.proc is not None
    aof_dir = srv.data_dir / "redis" / "appendonlydir"
    assert aof_dir.is_dir()
    aof_dir.rename(aof_dir.with_name("appendonlydir.moved"))  # Redis keeps its open files
    aof_dir.write_text("not a directory")  # but a new one cannot load its AOF
    started = time.monotonic()
    os.kill(redis_pid(srv), signal.SIGKILL)
    assert srv.proc.wait(30) == 1
    assert time.monotonic() - started < 10  # 2 tries: 0.2 s + 0.5 s of backoff
    log = srv.log.read_text()
    assert "redis_restart_failed" in log and "redis_gave_up" in log
