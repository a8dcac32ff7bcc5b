"""Messages: kept while waiting, numbered 1..N with no gap, stored once per client_msg_id."""

from __future__ import annotations

import threading

from kefu.actors.messages import (
    Accepted,
    Crash,
    CustomerMessage,
    EndSession,
    PostMessage,
    RequestService,
)
from kefu.actors.session import Session
from kefu.domain import Priority
from tests.actors.conftest import MakeRuntime
from tests.actors.support import Kit, Reply, call, session_actors_alive


def _say(kit: Kit, kehu: str, conn: int, cmid: str, text: str) -> None:
    result = call(kit.dispatcher, CustomerMessage, kehu_id=kehu, kehu_name=kehu, conn_id=conn,
                  client_msg_id=cmid, content=text, content_type="Text")
    assert isinstance(result, Accepted), result


def _open_session(kit: Kit, kehu: str = "kehu_1", kefu: str = "kefu_a") -> str:
    kit.connect_agent(kefu)
    result = call(kit.dispatcher, RequestService, kehu_id=kehu, kehu_name=kehu)
    assert isinstance(result, Accepted) and result.data["session_id"] == f"{kehu}:{kefu}"
    return f"{kehu}:{kefu}"


def test_waiting_messages_are_kept_then_moved_into_the_session(
        make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 5})  # the kefu exists but is not connected
    k = kit.store.keys
    for i in (1, 2, 3):
        _say(kit, "kehu_1", 21, f"w{i}", f"等待中 {i}")

    acks = kit.outbox.wait_acks(21, ["w1", "w2", "w3"])
    waiting = [acks[f"w{i}"][0] for i in (1, 2, 3)]
    assert all(m["seq"] is None and m["session_id"] is None for m in waiting)
    assert [m["content"] for m in waiting] == ["等待中 1", "等待中 2", "等待中 3"]
    assert len({m["id"] for m in waiting}) == 3
    assert kit.store.client.llen(k.waiting_messages("kehu_1")) == 3
    assert kit.state()["queue"] == ["kehu_1"]
    assert kit.outbox.user_frames("kehu_1", "queued")[-1]["position"] == 1
    assert kit.outbox.user_frames("kefu_a", "message") == []

    # a resend while waiting is acked with the same message and kept once
    _say(kit, "kehu_1", 21, "w2", "等待中 2")
    assert kit.outbox.wait_acks(21, ["w2"])["w2"] == [waiting[1], waiting[1]]
    assert kit.store.client.llen(k.waiting_messages("kehu_1")) == 3

    kit.connect_agent("kefu_a")  # the kefu comes online: the kehu is assigned at once
    sid = "kehu_1:kefu_a"
    delivered = [f["message"] for f in kit.outbox.wait_user("kefu_a", "message", 3)]
    assert [m["seq"] for m in delivered] == [1, 2, 3]
    assert [m["id"] for m in delivered] == [m["id"] for m in waiting]
    assert [m["content"] for m in delivered] == [m["content"] for m in waiting]
    assert all(m["session_id"] == sid and m["to"] == "kefu_a" for m in delivered)
    assert [f["message"]["seq"] for f in kit.outbox.user_frames("kehu_1", "message")] == [1, 2, 3]

    stream = kit.stream(sid)
    assert [eid for eid, _ in stream] == ["0-1", "0-2", "0-3"]
    assert [m for _, m in stream] == delivered
    assert not kit.store.client.exists(k.waiting_messages("kehu_1"))
    assert kit.store.client.hlen(k.queue) == 0
    assert kit.meta(sid)["seq"] == "3"

    # the session goes on from there, with no gap
    _say(kit, "kehu_1", 21, "w4", "after")
    assert kit.outbox.wait_acks(21, ["w4"])["w4"][0]["seq"] == 4
    # a late resend of a message that waited is answered with its stored form (seq 1)
    _say(kit, "kehu_1", 21, "w1", "等待中 1")
    again = kit.outbox.wait_for(lambda: len(kit.outbox.acks(21)["w1"]) == 2, "second w1 ack")
    assert again
    assert kit.outbox.acks(21)["w1"][1] == delivered[0]
    _say(kit, "kehu_1", 21, "w5", "next")
    assert kit.outbox.wait_acks(21, ["w5"])["w5"][0]["seq"] == 5
    assert [eid for eid, _ in kit.stream(sid)] == [f"0-{i}" for i in range(1, 6)]


def test_seq_is_gap_free_and_client_msg_id_stored_once(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 5})
    sid = _open_session(kit)
    session = kit.rt.session(sid)
    n = 150
    senders = {"kehu_1": (31, "k"), "kefu_a": (32, "f")}
    start = threading.Barrier(len(senders))

    def send(user: str) -> None:
        conn, tag = senders[user]
        start.wait(5)
        for i in range(n):
            session.tell(PostMessage(sender_id=user, conn_id=conn, client_msg_id=f"{tag}-{i}",
                                     content=f"{tag} {i}", content_type="Text"))

    threads = [threading.Thread(target=send, args=(u,)) for u in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    kehu_acks = kit.outbox.wait_acks(31, [f"k-{i}" for i in range(n)])
    kefu_acks = kit.outbox.wait_acks(32, [f"f-{i}" for i in range(n)])

    stream = kit.stream(sid)
    assert [eid for eid, _ in stream] == [f"0-{s}" for s in range(1, 2 * n + 1)]
    assert [m["seq"] for _, m in stream] == list(range(1, 2 * n + 1))
    cmids = [m["client_msg_id"] for _, m in stream]
    assert sorted(cmids) == sorted([f"k-{i}" for i in range(n)] + [f"f-{i}" for i in range(n)])
    # what was acked is what was stored, and each sender's order is kept
    by_cmid = {m["client_msg_id"]: m for _, m in stream}
    for acks in (kehu_acks, kefu_acks):
        for cmid, msgs in acks.items():
            assert msgs == [by_cmid[cmid]]
    for tag in ("k", "f"):
        seqs = [by_cmid[f"{tag}-{i}"]["seq"] for i in range(n)]
        assert seqs == sorted(seqs)
    meta = kit.meta(sid)
    assert (meta["seq"], meta["message_count"]) == (str(2 * n), str(2 * n))
    assert (meta["kehu_messages"], meta["kefu_messages"]) == (str(n), str(n))

    # a resend of a recent client_msg_id: same ack, stored once
    reply = Reply()
    session.ask(PostMessage(sender_id="kehu_1", conn_id=31, client_msg_id="k-7",
                             content="k 7", content_type="Text"), reply)
    assert isinstance(reply.get(), Accepted)
    kit.outbox.wait_for(lambda: len(kit.outbox.acks(31)["k-7"]) == 2, "second ack of k-7")
    assert kit.outbox.acks(31)["k-7"] == [by_cmid["k-7"], by_cmid["k-7"]]
    assert len(kit.stream(sid)) == 2 * n

    # after a restart the actor has forgotten its recent ids: Redis' dedup answers
    crash, resend = Reply(), Reply()
    with kit.parked(session):
        session.ask(Crash(), crash)
        session.ask(PostMessage(sender_id="kehu_1", conn_id=31, client_msg_id="k-8",
                                 content="k 8", content_type="Text"), resend)
    assert isinstance(crash.get(), Accepted)
    assert isinstance(resend.get(), Accepted)  # handled by the new incarnation
    kit.outbox.wait_for(lambda: len(kit.outbox.acks(31)["k-8"]) == 2, "second ack of k-8")
    assert kit.outbox.acks(31)["k-8"] == [by_cmid["k-8"], by_cmid["k-8"]]
    assert len(kit.stream(sid)) == 2 * n
    kit.supervisor_barrier()
    assert session.restarts == 1 and session.state == "running"
    assert len(session_actors_alive(Session)) == 1

    # and the next new message takes the next seq: the duplicate left no hole
    session.tell(PostMessage(sender_id="kefu_a", conn_id=32, client_msg_id="f-new",
                             content="new", content_type="Text"))
    assert kit.outbox.wait_acks(32, ["f-new"])["f-new"][0]["seq"] == 2 * n + 1
    assert kit.meta(sid)["seq"] == str(2 * n + 1)


def test_kehu_message_when_queued_behind_others_is_kept(make_runtime: MakeRuntime) -> None:
    """A kehu already waiting (request_service first) keeps its messages too."""
    kit = make_runtime(kefu={"kefu_a": 1})
    kit.connect_agent("kefu_a")
    _open_session(kit, "kehu_0")
    result = call(kit.dispatcher, RequestService, kehu_id="kehu_1", kehu_name="kehu_1",
                  priority=Priority.HIGH)
    assert result.data["session_id"] is None
    _say(kit, "kehu_1", 41, "q1", "still there?")
    assert kit.outbox.wait_acks(41, ["q1"])["q1"][0]["seq"] is None
    _say(kit, "kehu_1", 41, "q2", "hello?")
    assert isinstance(call(kit.dispatcher, EndSession, session_id="kehu_0:kefu_a"), Accepted)
    delivered = kit.outbox.wait_user("kefu_a", "message", 2)
    assert [(f["message"]["seq"], f["message"]["client_msg_id"]) for f in delivered] == [
        (1, "q1"), (2, "q2")]
