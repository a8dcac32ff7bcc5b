"""Restore: a new runtime on the same Redis has the queue, assignments and load as before."""

from __future__ import annotations

import pykka

from kefu.actors.messages import (
    Accepted,
    CustomerMessage,
    EndSession,
    PostMessage,
    RequestService,
)
from kefu.domain import Priority
from tests.actors.conftest import MakeRuntime
from tests.actors.support import call


def test_restart_restores_queue_assignments_and_load(make_runtime: MakeRuntime) -> None:
    first = make_runtime(kefu={"kefu_a": 1, "kefu_b": 2})
    first.connect_agent("kefu_a")
    first.connect_agent("kefu_b")
    for i in (1, 2, 3):
        assert call(first.dispatcher, CustomerMessage, kehu_id=f"kehu_{i}",
                    kehu_name=f"客户{i}", conn_id=100 + i, client_msg_id=f"h{i}",
                    content=f"hello {i}", content_type="Text")
    first.outbox.wait_acks(101, ["h1"])
    first.outbox.wait_acks(102, ["h2"])
    first.outbox.wait_acks(103, ["h3"])
    for kehu, prio in (("kehu_4", Priority.LOW), ("kehu_5", Priority.HIGH),
                       ("kehu_6", Priority.NORMAL)):
        result = call(first.dispatcher, RequestService, kehu_id=kehu, kehu_name=kehu,
                      priority=prio)
        assert result.data["session_id"] is None
    assert call(first.dispatcher, CustomerMessage, kehu_id="kehu_6", kehu_name="kehu_6",
                conn_id=106, client_msg_id="w6", content="waiting", content_type="Text")
    first.outbox.wait_acks(106, ["w6"])
    before = first.state()
    assert before["queue"] == ["kehu_5", "kehu_6", "kehu_4"]
    assert len(before["assignments"]) == 3
    sid_1 = before["assignments"]["kehu_1"]
    first_ack = first.outbox.acks(101)["h1"][0]

    first.stop()
    assert pykka.ActorRegistry.get_all() == []

    second = make_runtime()  # same Redis, nobody connected yet
    after = second.state()
    assert after["queue"] == before["queue"]
    assert after["assignments"] == before["assignments"]
    for kefu_id in ("kefu_a", "kefu_b"):
        was, now = before["agents"][kefu_id], after["agents"][kefu_id]
        for field in ("active", "max_sessions", "name", "status"):
            assert now[field] == was[field], (kefu_id, field)
        assert now["connections"] == 0  # sockets do not survive a restart
    # every active session's actor was started before the "port opened"
    for sid in before["assignments"].values():
        handle = second.rt.registry.find(f"session:{sid}")
        assert handle is not None and handle.alive(), sid

    # conversations go on where they were, and resends are still recognised
    session = second.rt.session(sid_1)
    session.tell(PostMessage(sender_id="kehu_1", conn_id=201, client_msg_id="h1",
                             content="hello 1", content_type="Text"))
    assert second.outbox.wait_acks(201, ["h1"])["h1"] == [first_ack]
    session.tell(PostMessage(sender_id="kehu_1", conn_id=201, client_msg_id="h1b",
                             content="again", content_type="Text"))
    assert second.outbox.wait_acks(201, ["h1b"])["h1b"][0]["seq"] == 2
    assert [eid for eid, _ in second.stream(sid_1)] == ["0-1", "0-2"]

    # when the agents reconnect, service resumes from the restored queue
    second.connect_agent("kefu_a")
    second.connect_agent("kefu_b")
    assert second.state()["queue"] == before["queue"]  # everyone still full
    sid_b = before["agents"]["kefu_b"]["active"][0]
    assert isinstance(call(second.dispatcher, EndSession, session_id=sid_b), Accepted)
    state = second.state()
    assert state["assignments"]["kehu_5"] == "kehu_5:kefu_b"
    assert state["queue"] == ["kehu_6", "kehu_4"]
    sid_a = before["agents"]["kefu_a"]["active"][0]
    assert isinstance(call(second.dispatcher, EndSession, session_id=sid_a), Accepted)
    assert second.state()["assignments"]["kehu_6"] == "kehu_6:kefu_a"
    # kehu_6's message kept across the restart is delivered as seq 1
    delivered = [f["message"] for f in second.outbox.user_frames("kefu_a", "message")
                 if f["message"]["session_id"] == "kehu_6:kefu_a"]
    assert [(m["client_msg_id"], m["seq"]) for m in delivered] == [("w6", 1)]
