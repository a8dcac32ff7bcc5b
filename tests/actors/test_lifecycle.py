"""A session's life: idle end (time driven by Tick), its actor retiring once ended, and
re-activation from Redis on demand (a rating after the actor stopped)."""

from __future__ import annotations

import time

from kefu.actors.messages import (
    Accepted,
    PostMessage,
    RateSession,
    Rejected,
    RequestService,
    Tick,
)
from tests.actors.conftest import MakeRuntime
from tests.actors.support import call, http_status


def test_idle_session_ends_retires_and_reactivates(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1}, session_idle_seconds=30,
                       ended_actor_linger_seconds=10)
    kit.connect_agent("kefu_a")
    sid = "kehu_1:kefu_a"
    call(kit.dispatcher, RequestService, kehu_id="kehu_1", kehu_name="kehu_1")
    call(kit.dispatcher, RequestService, kehu_id="kehu_2", kehu_name="kehu_2")  # waits
    session = kit.rt.session(sid)
    session.tell(PostMessage(sender_id="kehu_1", conn_id=401, client_msg_id="i1",
                             content="hi", content_type="Text"))
    kit.outbox.wait_acks(401, ["i1"])
    # the ticker (ActorSystem.tick) leaves it alone until it could be idle
    assert time.time() + 25 < session.due <= time.time() + 30

    early = call(session, RateSession, user_id="kehu_1", score=5)
    assert isinstance(early, Rejected) and early.reason == "session_active"
    call(session, Tick, now=time.time() + 5)  # not idle long enough
    assert kit.outbox.user_frames("kehu_1", "session_ended") == []

    call(session, Tick, now=time.time() + 31)  # idle: the session asks the dispatcher
    ended = kit.outbox.wait_user("kehu_1", "session_ended")
    assert [(f["session_id"], f["reason"]) for f in ended] == [(sid, "idle")]
    kit.outbox.wait_user("kehu_2", "assigned")  # the freed seat went to the next kehu
    assert kit.state()["assignments"] == {"kehu_2": "kehu_2:kefu_a"}
    assert kit.meta(sid)["end_reason"] == "idle"

    # the ended session's actor lingers, then stops and leaves the registry
    ref = session.ref
    assert ref is not None
    kit.outbox.wait_for(lambda: session.due <= time.time() + 10, "the linger's end is due")
    call(session, Tick, now=time.time() + 5)
    assert session.alive()
    call(session, Tick, now=time.time() + 60)
    assert ref.actor_stopped.wait(5)
    assert kit.rt.registry.find(f"session:{sid}") is None

    # a rating re-activates it from Redis
    again = kit.rt.session(sid)
    assert again is not session
    rated = call(again, RateSession, user_id="kehu_1", score=4, comment="不错", conn_id=402)
    assert isinstance(rated, Accepted) and rated.data == {"session_id": sid, "score": 4}
    assert kit.outbox.wait_user("kehu_1", "rated")[0]["score"] == 4
    twice = call(again, RateSession, user_id="kehu_1", score=1)
    assert isinstance(twice, Rejected) and twice.reason == "already_rated"
    stranger = call(again, RateSession, user_id="kehu_9", score=1)
    assert isinstance(stranger, Rejected) and http_status(stranger) == 404
    assert kit.meta(sid)["satisfaction"] == "4"
    # the session told the dispatcher the figure before replying: it is ahead in its inbox
    assert kit.state()["agents"]["kefu_a"]["satisfaction"] == 4.0
    # the kefu writing to it is refused: an error frame naming the message, nothing stored
    again.tell(PostMessage(sender_id="kefu_a", conn_id=401, client_msg_id="i2",
                           content="late", content_type="Text"))
    error = kit.outbox.wait_conn(401, "error")[0]
    assert (error["code"], error["ref"]) == ("session_ended", "i2")
    assert [eid for eid, _ in kit.stream(sid)] == ["0-1"]
    # the kehu writing to it starts a new conversation: its message goes to the dispatcher,
    # which opens the pair's session again (the agent is still online) and stores it there
    again.tell(PostMessage(sender_id="kehu_1", conn_id=403, client_msg_id="i3",
                           content="again", content_type="Text"))
    ack = kit.outbox.wait_conn(403, "ack")[0]
    assert ack["message"]["client_msg_id"] == "i3"
