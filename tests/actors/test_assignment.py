"""Assignment and capacity: the dispatcher is the single writer of "who serves whom"."""

from __future__ import annotations

import threading

import orjson

from kefu.actors.messages import (
    Accepted,
    AgentMessage,
    AgentPresence,
    AssignCustomer,
    CustomerMessage,
    EndSession,
    GetWaiting,
    RegisterAgent,
    Rejected,
    RequestService,
    SetAgentStatus,
    SwitchCustomer,
)
from kefu.domain import PRIORITY_RANK, AgentStatus, Priority, UserType
from tests.actors.conftest import MakeRuntime
from tests.actors.support import Reply, call, http_status


def test_first_message_opens_session_with_available_agent(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 5})
    kit.connect_agent("kefu_a")

    result = call(kit.dispatcher, CustomerMessage, kehu_id="kehu_1", kehu_name="小王",
                  conn_id=11, client_msg_id="c1", content="你好", content_type="Text")
    assert isinstance(result, Accepted)
    sid = "kehu_1:kefu_a"

    ack = kit.outbox.wait_conn(11, "ack")[0]
    stored = ack["message"]
    assert ack["client_msg_id"] == "c1"
    assert stored["seq"] == 1
    assert stored["session_id"] == sid
    assert (stored["from"], stored["to"], stored["content"]) == ("kehu_1", "kefu_a", "你好")

    for user in ("kehu_1", "kefu_a"):
        assigned = kit.outbox.user_frames(user, "assigned")
        assert len(assigned) == 1, user
        assert assigned[0]["session"]["session_id"] == sid
        assert assigned[0]["kefu"]["id"] == "kefu_a"
        assert assigned[0]["kehu"] == {"id": "kehu_1", "name": "小王"}
    # the customer learns it was assigned before its first message is acked
    kehu_assigned = kit.outbox.user_frames("kehu_1", "assigned")[0]
    assert kit.outbox.index_of("kehu_1", kehu_assigned) < kit.outbox.index_of(11, ack)

    delivered = kit.outbox.wait_user("kefu_a", "message")
    assert [f["message"] for f in delivered] == [stored]

    # stored before the ack: the stream holds exactly the acked message as seq 1
    assert kit.stream(sid) == [("0-1", stored)]
    meta = kit.meta(sid)
    assert (meta["status"], meta["seq"], meta["kehu_id"], meta["kefu_id"]) == (
        "active", "1", "kehu_1", "kefu_a")
    k = kit.store.keys
    assert kit.store.client.hgetall(k.assignments) == {"kehu_1": sid}
    assert kit.store.client.hlen(k.queue) == 0

    state = kit.state()
    assert state["assignments"] == {"kehu_1": sid}
    assert state["queue"] == []
    assert state["agents"]["kefu_a"]["active"] == [sid]


def test_capacity_under_concurrent_requests(make_runtime: MakeRuntime) -> None:
    agents = {"kefu_a": 2, "kefu_b": 2, "kefu_c": 2}
    kit = make_runtime(kefu=agents)
    for kefu_id in agents:
        kit.connect_agent(kefu_id)

    prios = [Priority.LOW, Priority.NORMAL, Priority.HIGH]
    kehus = [(f"kehu_{i:02d}", prios[i % 3]) for i in range(10)]
    replies: dict[str, Reply] = {kehu: Reply() for kehu, _ in kehus}
    start = threading.Barrier(5)

    def client(batch: list[tuple[str, Priority]]) -> None:
        start.wait(5)
        for kehu, prio in batch:
            kit.dispatcher.ask(RequestService(kehu_id=kehu, kehu_name=kehu, priority=prio), replies[kehu])

    threads = [threading.Thread(target=client, args=(kehus[i::5],)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    results = {kehu: r.get() for kehu, r in replies.items()}
    assert all(isinstance(r, Accepted) for r in results.values()), results
    assert all(r.calls == 1 for r in replies.values())

    state = kit.state()
    assignments = state["assignments"]
    assert len(assignments) == 6
    assert len(set(assignments.values())) == 6
    for kefu_id, cap in agents.items():
        active = state["agents"][kefu_id]["active"]
        assert len(active) == cap  # least-loaded spreads 6 over 3 x 2 seats, none over
        assert all(sid.endswith(f":{kefu_id}") for sid in active)
    for kehu, sid in assignments.items():
        assert sid.startswith(f"{kehu}:")
        assert results[kehu].data["session_id"] == sid

    queued = state["queue"]
    assert len(queued) == 4
    assert set(queued) | set(assignments) == {k for k, _ in kehus}
    assert not set(queued) & set(assignments)
    for kehu in queued:
        assert results[kehu].data["session_id"] is None

    # nobody assigned twice, every seat announced once to its kefu
    for kehu, _ in kehus:
        expected = 1 if kehu in assignments else 0
        assert len(kit.outbox.user_frames(kehu, "assigned")) == expected, kehu
    for kefu_id in agents:
        assert len(kit.outbox.user_frames(kefu_id, "assigned")) == 2

    # queue order: priority, then waiting time (as stored in Redis)
    raw = kit.store.client.hgetall(kit.store.keys.queue)
    entries = {kehu: orjson.loads(v) for kehu, v in raw.items()}
    assert set(entries) == set(queued)
    by_rule = sorted(queued, key=lambda kh: (PRIORITY_RANK[Priority(entries[kh]["priority"])],
                                             entries[kh]["since"]))
    assert queued == by_rule
    # each waiting kehu's last `queued` frame names its current position
    for pos, kehu in enumerate(queued, start=1):
        assert kit.outbox.user_frames(kehu, "queued")[-1]["position"] == pos, kehu
    waiting = call(kit.dispatcher, GetWaiting).data
    assert [w["customer_id"] for w in waiting["waiting_customers"]] == queued
    assert waiting["total"] == 4

    # ending a session hands the freed seat to the head of the queue, at once
    head = queued[0]
    ended_sid = state["agents"]["kefu_b"]["active"][0]
    ended_kehu = ended_sid.split(":")[0]
    result = call(kit.dispatcher, EndSession, session_id=ended_sid, by_user="kefu_b")
    assert isinstance(result, Accepted), result
    # frames are pushed before the reply: no waiting needed
    assigned = kit.outbox.user_frames(head, "assigned")
    assert len(assigned) == 1
    assert assigned[0]["session"]["session_id"] == f"{head}:kefu_b"
    assert [f["reason"] for f in kit.outbox.user_frames(ended_kehu, "session_ended")] == ["ended"]
    after = kit.state()
    assert after["assignments"][head] == f"{head}:kefu_b"
    assert ended_kehu not in after["assignments"]
    assert after["queue"] == queued[1:]
    assert len(after["agents"]["kefu_b"]["active"]) == 2
    for pos, kehu in enumerate(queued[1:], start=1):
        assert kit.outbox.user_frames(kehu, "queued")[-1]["position"] == pos, kehu
    assert kit.meta(ended_sid)["status"] == "completed"


def test_queue_orders_by_priority_then_time(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1})
    kit.connect_agent("kefu_a")
    assert call(kit.dispatcher, RequestService, kehu_id="first", kehu_name="first").data[
        "session_id"] == "first:kefu_a"

    # ids chosen so that an id tie-break would give the opposite order to time
    arrivals = [("z_low", Priority.LOW), ("z_normal", Priority.NORMAL),
                ("z_high", Priority.HIGH), ("a_normal", Priority.NORMAL),
                ("a_low", Priority.LOW), ("a_high", Priority.HIGH)]
    for kehu, prio in arrivals:
        result = call(kit.dispatcher, RequestService, kehu_id=kehu, kehu_name=kehu,
                      priority=prio)
        assert isinstance(result, Accepted) and result.data["session_id"] is None

    expected = ["z_high", "a_high", "z_normal", "a_normal", "z_low", "a_low"]
    assert kit.state()["queue"] == expected
    for pos, kehu in enumerate(expected, start=1):
        assert kit.outbox.user_frames(kehu, "queued")[-1]["position"] == pos

    again = call(kit.dispatcher, RequestService, kehu_id="first", kehu_name="first")
    assert isinstance(again, Rejected) and again.reason == "already_in_session"

    assert isinstance(call(kit.dispatcher, EndSession, session_id="first:kefu_a"), Accepted)
    state = kit.state()
    assert state["assignments"] == {"z_high": "z_high:kefu_a"}
    assert state["queue"] == expected[1:]


def test_agent_registered_later_status_and_capacity_changes(make_runtime: MakeRuntime) -> None:
    kit = make_runtime()  # no kefu at start
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_1", kehu_name="kehu_1").data[
        "session_id"] is None
    unknown = call(kit.dispatcher, AgentPresence, kefu_id="kefu_x", connections=1)
    assert isinstance(unknown, Rejected) and http_status(unknown) == 404

    kit.users.create(name="新客服", user_type=UserType.KEFU, user_id="kefu_x", max_sessions=2)
    assert isinstance(call(kit.dispatcher, RegisterAgent, kefu_id="kefu_x", name="新客服",
                           max_sessions=2), Accepted)
    assert kit.state()["queue"] == ["kehu_1"]  # registered is not connected
    kit.connect_agent("kefu_x")
    state = kit.state()
    assert state["assignments"] == {"kehu_1": "kehu_1:kefu_x"}
    assert state["agents"]["kefu_x"]["status"] == "online"

    away = call(kit.dispatcher, SetAgentStatus, kefu_id="kefu_x", status=AgentStatus.AWAY)
    assert isinstance(away, Accepted) and away.data["effective_status"] == "away"
    presence = kit.outbox.user_frames("kehu_1", "presence")
    assert presence[-1] == {"type": "presence", "user_id": "kefu_x", "status": "away"}
    assert kit.users.get("kefu_x").status is AgentStatus.AWAY
    assert call(kit.dispatcher, RequestService, kehu_id="kehu_2", kehu_name="kehu_2").data[
        "session_id"] is None  # away: a free seat but not available
    call(kit.dispatcher, SetAgentStatus, kefu_id="kefu_x", status=AgentStatus.ONLINE)
    assert kit.state()["assignments"]["kehu_2"] == "kehu_2:kefu_x"  # at once

    assert call(kit.dispatcher, RequestService, kehu_id="kehu_3", kehu_name="kehu_3").data[
        "session_id"] is None  # full (2 of 2)
    # a capacity change, as PUT /api/users/{id} makes it: the user record (the scripts'
    # truth) first, then the dispatcher
    kit.users.set_fields("kefu_x", max_sessions=3)
    call(kit.dispatcher, RegisterAgent, kefu_id="kefu_x", name="新客服", max_sessions=3)
    state = kit.state()
    assert state["assignments"]["kehu_3"] == "kehu_3:kefu_x"
    assert state["agents"]["kefu_x"]["max_sessions"] == 3


def test_manual_assignment_respects_capacity(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 1, "kefu_b": 1})
    kit.connect_agent("kefu_a")
    call(kit.dispatcher, RequestService, kehu_id="kehu_1", kehu_name="kehu_1")

    full = call(kit.dispatcher, AssignCustomer, kehu_id="kehu_2", kehu_name="kehu_2",
                kefu_id="kefu_a")
    assert isinstance(full, Rejected) and (http_status(full), full.reason) == (409, "kefu_full")
    busy = call(kit.dispatcher, AssignCustomer, kehu_id="kehu_1", kehu_name="kehu_1",
                kefu_id="kefu_b")
    assert isinstance(busy, Rejected) and busy.reason == "already_in_session"
    forced = call(kit.dispatcher, AssignCustomer, kehu_id="kehu_2", kehu_name="kehu_2",
                  kefu_id="kefu_a", force=True)
    assert isinstance(forced, Accepted) and forced.data["session_id"] == "kehu_2:kefu_a"
    assert len(kit.state()["agents"]["kefu_a"]["active"]) == 2

    queued = call(kit.dispatcher, AssignCustomer, kehu_id="kehu_3", kehu_name="kehu_3",
                  priority=Priority.HIGH)
    assert queued.data["status"] == "queued" and queued.data["position"] == 1
    call(kit.dispatcher, RequestService, kehu_id="kehu_4", kehu_name="kehu_4")
    # a waiting kehu assigned by hand leaves the queue
    taken = call(kit.dispatcher, AssignCustomer, kehu_id="kehu_4", kehu_name="kehu_4",
                 kefu_id="kefu_b")
    assert isinstance(taken, Accepted) and taken.data["status"] == "assigned"
    state = kit.state()
    assert state["queue"] == ["kehu_3"]
    assert state["assignments"]["kehu_4"] == "kehu_4:kefu_b"
    assert kit.store.client.hkeys(kit.store.keys.queue) == ["kehu_3"]
    assert len(kit.outbox.user_frames("kehu_4", "assigned")) == 1


def test_switch_focuses_a_customer_and_takes_a_waiting_one(make_runtime: MakeRuntime) -> None:
    kit = make_runtime(kefu={"kefu_a": 3, "kefu_b": 1})
    kit.connect_agent("kefu_a")
    for kehu in ("kehu_1", "kehu_2"):
        result = call(kit.dispatcher, RequestService, kehu_id=kehu, kehu_name=kehu)
        assert result.data["session_id"] == f"{kehu}:kefu_a"

    result = call(kit.dispatcher, SwitchCustomer, kefu_id="kefu_a", customer_id="kehu_2")
    assert isinstance(result, Accepted) and result.data["session_id"] == "kehu_2:kefu_a"
    switched = kit.outbox.wait_user("kefu_a", "switched")
    assert switched[-1]["customer_id"] == "kehu_2"
    # a kefu message naming no session goes to the focused customer
    kit.rt.agent("kefu_a").tell(AgentMessage(kefu_id="kefu_a", conn_id=301,
                                             client_msg_id="a1", content="您好",
                                             content_type="Text"))
    ack = kit.outbox.wait_acks(301, ["a1"])["a1"][0]
    assert (ack["session_id"], ack["to"], ack["seq"]) == ("kehu_2:kefu_a", "kehu_2", 1)

    # a waiting kehu can be taken by a kefu with room, even one not taking new customers
    call(kit.dispatcher, SetAgentStatus, kefu_id="kefu_a", status=AgentStatus.BUSY)
    call(kit.dispatcher, RequestService, kehu_id="kehu_3", kehu_name="kehu_3")
    assert kit.state()["queue"] == ["kehu_3"]
    taken = call(kit.dispatcher, SwitchCustomer, kefu_id="kefu_a", customer_id="kehu_3")
    assert isinstance(taken, Accepted) and taken.data["session_id"] == "kehu_3:kefu_a"
    assert kit.state()["queue"] == []
    kit.outbox.wait_for(lambda: kit.outbox.user_frames("kefu_a", "switched")[-1][
        "customer_id"] == "kehu_3", "switch to kehu_3")

    kit.connect_agent("kefu_b")
    call(kit.dispatcher, RequestService, kehu_id="kehu_4", kehu_name="kehu_4")
    other = call(kit.dispatcher, SwitchCustomer, kefu_id="kefu_a", customer_id="kehu_4")
    assert isinstance(other, Rejected) and http_status(other) == 404
