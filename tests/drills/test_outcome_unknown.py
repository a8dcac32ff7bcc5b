"""``outcome_unknown`` (issue 10, item 10): when a write reached Redis but its reply never
came back (here: Redis frozen with SIGSTOP past the client's 5 s socket timeout), the
sender is not told ``storage_unavailable`` — the message may well be stored, and here it
is. The client resends with the same ``client_msg_id``: it gets the ack of the stored
message, nothing is stored twice, and the other side receives it exactly once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.helpers import WS, Api, ServerProcess, open_pair


def test_a_write_that_was_sent_but_unanswered_is_outcome_unknown(
        tmp_path: Path, spawned: list[ServerProcess], sockets: list[WS]) -> None:
    srv = ServerProcess(tmp_path / "srv").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    pair = open_pair(srv, admin)
    sockets += [pair.c, pair.k]
    pair.c.send(type="message", client_msg_id="m1", content="第一条")
    pair.c.expect("ack")
    pair.k.expect("message")
    redis_pid = int((srv.data_dir / "redis" / "redis.pid").read_text())
    os.kill(redis_pid, signal.SIGSTOP)  # the append is sent, and no reply comes
    try:
        pair.c.send(type="message", client_msg_id="m2", content="第二条")
        err = pair.c.expect_one_of(("ack", "error"), timeout=15)
    finally:
        os.kill(redis_pid, signal.SIGCONT)  # Redis runs what it was sent
    assert err["type"] == "error" and err["code"] == "outcome_unknown" and err["ref"] == "m2"
    pair.c.send(type="message", client_msg_id="m2", content="第二条")  # the client resends
    ack = pair.c.expect("ack", where=lambda f: f["client_msg_id"] == "m2")
    assert ack["message"]["seq"] == 2
    got = pair.k.expect("message")  # delivered now: the first attempt's delivery was lost
    assert got["message"]["client_msg_id"] == "m2"
    pair.c.send(type="message", client_msg_id="m3", content="第三条")
    assert pair.c.expect("ack")["message"]["seq"] == 3
    pair.k.expect("message", where=lambda f: f["message"]["client_msg_id"] == "m3")
    assert [f["message"]["client_msg_id"] for f in pair.k.seen
            if f["type"] == "message"] == ["m1", "m2", "m3"]  # m2 once
    page = admin.ok("GET", f"/api/sessions/{pair.sid}/messages")
    assert [(m["client_msg_id"], m["seq"]) for m in page["messages"]] == [
        ("m1", 1), ("m2", 2), ("m3", 3)]
