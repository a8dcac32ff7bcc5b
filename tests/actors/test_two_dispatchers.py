"""The invariants live in the Redis scripts, not only in one dispatcher's memory (issue 12,
first step): two dispatchers on one Redis, each believing every seat is free, are sent the
same customers at once. Neither can give a customer two active sessions or put an agent
over its ``max_sessions``: the script refuses, the refused dispatcher reloads its state
from Redis, and the seats fill exactly once."""

from __future__ import annotations

import threading

from kefu.actors.messages import EndSession, RequestService
from kefu.protocol import RejectReason
from tests.actors.conftest import MakeRuntime
from tests.actors.support import Reply, call

CAPACITY = {"kefu_a": 2, "kefu_b": 3}
KEHU = [f"kehu_{i:02d}" for i in range(20)]


def test_two_dispatchers_cannot_double_assign_or_overfill(make_runtime: MakeRuntime) -> None:
    one = make_runtime(kefu=CAPACITY)
    two = make_runtime()  # the same Redis and users: a second process, say
    for kit in (one, two):
        for kefu_id in CAPACITY:
            kit.connect_agent(kefu_id)
    replies = {(n, kehu): Reply() for n in (1, 2) for kehu in KEHU}
    start = threading.Barrier(2)

    def ask_all(n: int) -> None:
        kit = one if n == 1 else two
        start.wait(5)
        for kehu in KEHU if n == 1 else reversed(KEHU):  # each its own choice of customers
            kit.dispatcher.ask(RequestService(kehu_id=kehu, kehu_name=kehu), replies[(n, kehu)])

    threads = [threading.Thread(target=ask_all, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    answers = {key: reply.get() for key, reply in replies.items()}
    for kit in (one, two):
        kit.state()  # both dispatchers are done with everything sent

    r, k = one.store.client, one.store.keys
    load = {kefu: r.scard(k.active_sessions(kefu)) for kefu in CAPACITY}
    assert all(load[kefu] <= cap for kefu, cap in CAPACITY.items()), load
    assert sum(load.values()) == sum(CAPACITY.values())  # every seat taken, once
    per_kehu = {kehu: r.smembers(k.active_sessions(kehu)) for kehu in KEHU}
    assert all(len(sids) <= 1 for sids in per_kehu.values()), per_kehu
    assigned = r.hgetall(k.assignments)
    assert {kehu for kehu, sids in per_kehu.items() if sids} == set(assigned)
    # the race was real: at least one script refused a stale dispatcher, which reloaded
    events = [f for _, f in r.xrange(k.system_log) if f["event"] == "stale_state"]
    assert events, "no refusal: the two dispatchers never disagreed"
    refused = [a for a in answers.values() if getattr(a, "reason", None) in (
        RejectReason.KEFU_FULL, RejectReason.ALREADY_IN_SESSION)]
    assert refused

    # ending one session from both at once: it ends once, the other is told it is not
    sid = next(iter(assigned.values()))
    ends = [Reply(), Reply()]
    one.dispatcher.ask(EndSession(session_id=sid, by_user="admin"), ends[0])
    two.dispatcher.ask(EndSession(session_id=sid, by_user="admin"), ends[1])
    outcomes = sorted(type(e.get()).__name__ for e in ends)
    assert outcomes == ["Accepted", "Rejected"]
    assert r.hget(k.session(sid), "status") == "completed"
    ended_events = [e for e in r.lrange(k.events(sid), 0, -1) if '"completed"' in e]
    assert len(ended_events) == 1
    # the freed seat went to a waiting customer, once; a newcomer waits behind the rest
    late = call(two.dispatcher, RequestService, kehu_id="kehu_late", kehu_name="late")
    assert late.data["session_id"] is None
    for kit in (one, two):
        kit.state()
    load = {kefu: r.scard(k.active_sessions(kefu)) for kefu in CAPACITY}
    assert load == CAPACITY, load
    assert all(r.scard(k.active_sessions(kehu)) <= 1 for kehu in KEHU)
