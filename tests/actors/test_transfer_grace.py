"""Transfer, end, and the grace period of an agent whose last connection dropped."""

from __future__ import annotations

import time

import orjson

from kefu.actors.messages import (
    Accepted,
    CustomerMessage,
    EndSession,
    PostMessage,
    Rejected,
    RequestService,
    Tick,
    TransferSession,
)
from kefu.domain import Priority
from tests.actors.conftest import MakeRuntime
from tests.actors.support import call, http_status


def test_transfer_then_end(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1, "kefu_b": 1, "kefu_c": 1})
    k, r = kit.store.keys, kit.store.client
    kit.connect_agent("kefu_a")
    assert call(kit.dispatcher, CustomerMessage, kehu_id="kehu_1", kehu_name="小李", conn_id=91,
                client_msg_id="c1", content="在吗", content_type="Text")
    old_sid, new_sid = "kehu_1:kefu_a", "kehu_1:kefu_b"
    assert kit.outbox.wait_acks(91, ["c1"])["c1"][0]["session_id"] == old_sid

    refused = call(kit.dispatcher, TransferSession, session_id=old_sid, to_kefu_id="kefu_b",
                   by_user="kefu_a")
    assert isinstance(refused, Rejected) and (http_status(refused), refused.reason) == (
        409, "kefu_unavailable")  # kefu_b is not connected yet
    kit.connect_agent("kefu_b")
    same = call(kit.dispatcher, TransferSession, session_id=old_sid, to_kefu_id="kefu_a",
                by_user="kefu_a")
    assert isinstance(same, Rejected) and same.reason == "transfer_same_kefu"

    result = call(kit.dispatcher, TransferSession, session_id=old_sid, to_kefu_id="kefu_b",
                  reason="专业问题", note="VIP", by_user="kefu_a")
    assert isinstance(result, Accepted), result
    assert result.data["new_session_id"] == new_sid
    assert (result.data["from_kefu_id"], result.data["to_kefu_id"]) == ("kefu_a", "kefu_b")

    old_meta, new_meta = kit.meta(old_sid), kit.meta(new_sid)
    assert (old_meta["status"], old_meta["transferred_to"]) == ("transferred", new_sid)
    assert (new_meta["status"], new_meta["transferred_from"]) == ("active", old_sid)
    assert (new_meta["kehu_id"], new_meta["kefu_id"], new_meta["kehu_name"]) == (
        "kehu_1", "kefu_b", "小李")
    assert r.hgetall(k.assignments) == {"kehu_1": new_sid}
    assert r.smembers(k.active_sessions("kefu_a")) == set()
    assert r.smembers(k.active_sessions("kefu_b")) == {new_sid}
    assert r.smembers(k.active_sessions("kehu_1")) == {new_sid}
    events = [orjson.loads(e) for e in r.lrange(k.events(old_sid), 0, -1)]
    assert [e["event"] for e in events] == ["opened", "transferred"]
    assert events[-1]["after_seq"] == 1

    for user in ("kehu_1", "kefu_a", "kefu_b"):
        frames = kit.outbox.user_frames(user, "transferred")
        assert len(frames) == 1, user
        f = frames[0]
        assert (f["session_id"], f["new_session_id"], f["by"]) == (old_sid, new_sid, "kefu_a")
        assert f["session"]["transferred_from"] == old_sid
        assert (f["reason"], f["note"]) == ("专业问题", "VIP")
    # a transfer is not a fresh assignment
    assert len(kit.outbox.user_frames("kehu_1", "assigned")) == 1
    assert kit.outbox.user_frames("kefu_b", "assigned") == []

    state = kit.state()
    assert state["agents"]["kefu_a"]["active"] == []
    assert state["agents"]["kefu_b"]["active"] == [new_sid]

    # the conversation goes on in the new session; the old one is closed for writing
    assert call(kit.dispatcher, CustomerMessage, kehu_id="kehu_1", kehu_name="小李",
                conn_id=91, client_msg_id="c2", content="还在", content_type="Text")
    moved = kit.outbox.wait_acks(91, ["c2"])["c2"][0]
    assert (moved["session_id"], moved["seq"], moved["to"]) == (new_sid, 1, "kefu_b")
    assert [f["message"]["client_msg_id"]
            for f in kit.outbox.wait_user("kefu_b", "message")] == ["c2"]
    assert [f["message"]["client_msg_id"]
            for f in kit.outbox.user_frames("kefu_a", "message")] == ["c1"]
    kit.rt.session(old_sid).tell(PostMessage(sender_id="kefu_a", conn_id=92,
                                             client_msg_id="a1", content="late",
                                             content_type="Text"))
    error = kit.outbox.wait_conn(92, "error")[0]
    assert (error["code"], error["ref"]) == ("session_ended", "a1")
    assert len(kit.stream(old_sid)) == 1
    gone = call(kit.dispatcher, TransferSession, session_id=old_sid, to_kefu_id="kefu_a",
                by_user="admin")
    assert isinstance(gone, Rejected) and gone.reason == "session_not_active"

    # kefu_a's seat is free again; kefu_b is full; the next kehu waits
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_2", kehu_name="kehu_2").data[
        "session_id"] == "kehu_2:kefu_a"
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_3", kehu_name="kehu_3").data[
        "session_id"] is None
    kit.connect_agent("kefu_c")  # takes kehu_3
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_4", kehu_name="kehu_4").data[
        "session_id"] is None
    full = call(kit.dispatcher, TransferSession, session_id=new_sid, to_kefu_id="kefu_a",
                by_user="kefu_b")
    assert isinstance(full, Rejected) and full.reason == "kefu_unavailable"

    ended = call(kit.dispatcher, EndSession, session_id=new_sid, by_user="kefu_b")
    assert isinstance(ended, Accepted), ended
    assert ended.data["message_count"] == 1
    for user in ("kehu_1", "kefu_b"):
        frames = kit.outbox.user_frames(user, "session_ended")
        assert [(f["session_id"], f["reason"], f["by"]) for f in frames] == [
            (new_sid, "ended", "kefu_b")]
    assert kit.meta(new_sid)["status"] == "completed"
    state = kit.state()
    assert "kehu_1" not in state["assignments"]
    assert state["assignments"]["kehu_4"] == "kehu_4:kefu_b"  # the freed seat, at once
    assert state["agents"]["kefu_b"]["active"] == ["kehu_4:kefu_b"]
    assert state["queue"] == []
    again = call(kit.dispatcher, EndSession, session_id=new_sid)
    assert isinstance(again, Rejected) and again.reason == "session_not_active"


def test_agent_gone_past_grace_requeues_its_customers_first(
        make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1, "kefu_b": 1}, agent_grace_seconds=5)
    k, r = kit.store.keys, kit.store.client
    kit.connect_agent("kefu_a")
    sid = "kehu_1:kefu_a"
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_1", kehu_name="kehu_1").data[
        "session_id"] == sid
    waiting = call(kit.dispatcher, RequestService, kehu_id="kehu_w", kehu_name="kehu_w",
                   priority=Priority.HIGH)
    assert waiting.data["session_id"] is None

    def tick(ahead: float) -> None:
        call(kit.dispatcher, Tick, now=time.time() + ahead)

    # a reconnect within the grace period keeps the sessions
    kit.connect_agent("kefu_a", 0)
    tick(1)
    kit.connect_agent("kefu_a", 1)
    tick(60)
    assert kit.state()["assignments"] == {"kehu_1": sid}

    kit.connect_agent("kefu_a", 0)
    tick(2)  # still within the grace period
    assert kit.state()["assignments"] == {"kehu_1": sid}
    assert kit.outbox.user_frames("kehu_1", "session_ended") == []

    tick(6)  # past it
    state = kit.state()
    assert state["assignments"] == {}
    assert state["agents"]["kefu_a"]["active"] == []
    # back at the front of the queue, ahead of a high-priority kehu who waited longer
    assert state["queue"] == ["kehu_1", "kehu_w"]
    for user in ("kehu_1", "kefu_a"):
        frames = kit.outbox.user_frames(user, "session_ended")
        assert [(f["session_id"], f["reason"]) for f in frames] == [(sid, "agent_offline")]
    assert kit.outbox.user_frames("kehu_1", "queued")[-1]["position"] == 1
    assert kit.outbox.user_frames("kehu_w", "queued")[-1]["position"] == 2
    meta = kit.meta(sid)
    assert (meta["status"], meta["end_reason"]) == ("completed", "agent_offline")
    assert orjson.loads(r.hget(k.queue, "kehu_1"))["front"] is True
    assert r.hlen(k.assignments) == 0

    tick(30)  # nothing left to requeue: idempotent
    assert len(kit.outbox.user_frames("kehu_1", "session_ended")) == 1

    # the next agent to come online takes the requeued kehu first
    kit.connect_agent("kefu_b")
    state = kit.state()
    assert state["assignments"] == {"kehu_1": "kehu_1:kefu_b"}
    assert state["queue"] == ["kehu_w"]
    kit.connect_agent("kefu_a")
    assert kit.state()["assignments"]["kehu_w"] == "kehu_w:kefu_a"
