"""The cluster drills at CI size (``scripts/chaos --cluster``; docs/cluster.md, "Drills"):
three nodes on one Redis, clients on random nodes, a node killed, paused past its lease,
rolled, or its pub/sub connection cut — nothing acked lost, nothing stored twice, no seq
skipped, no delivery missed, no customer with two sessions or agent over capacity (after
the run and sampled during it), epochs never reused, every inbox drained.

And the checkers themselves catch what they look for (a drill that cannot fail proves
nothing): a reused epoch, a stuck inbox entry, a double assignment, an agent over its
capacity."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.drills.cluster import ClusterDrillConfig, run_one
from kefu.drills.cluster_checks import epoch_violations, inbox_violations
from kefu.drills.invariants import violations
from kefu.persistence.keys import Keys
from tests.helpers import RedisServer

TTL_MS = 2000  # leases at CI size (the cluster model drill uses 2 s too): shorter waits

CI = {"messages": 600, "rate": 200.0, "kehu": 15, "kefu": 3, "restart_after": 1.0,
      "settle_seconds": 40.0, "ttl_ms": TTL_MS}


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("scenario", ["kill", "stop", "rolling", "pubsub"])
def test_cluster_drill(scenario: str, tmp_path: Path) -> None:
    res = run_one(ClusterDrillConfig(scenario=scenario, seed=1, burst=10, **CI), root=tmp_path)
    print(res.line())
    f = res.figures
    assert res.completed
    assert f.attempted == f.acked == f.stored == 600
    assert res.problems == []
    if scenario == "kill":  # every shard owned again within TTL + 2 renew intervals (+1 s)
        ttl = TTL_MS / 1000
        assert 0 < res.takeover <= ttl + 2 * ttl / 5 + 1.0
    if scenario == "stop":  # the woken node was fenced, and came back with new epochs
        assert sum(res.fenced.values()) >= 1 and res.rejoined
    if scenario == "rolling":
        assert res.exit_codes == [0, 0, 0]
    if scenario == "pubsub":
        assert f.reconnects >= 18  # every client was told to start over (1012)


def test_the_cluster_checkers_catch_planted_violations(tmp_path: Path) -> None:
    rs = RedisServer(tmp_path / "r").start()
    r = rs.client(decode_responses=True)
    keys = Keys()
    try:
        assert epoch_violations(r, keys) == [] and inbox_violations(r, keys, 4) == []
        for shard, node, epoch in [("1", "a", 1), ("1", "b", 2), ("2", "a", 1), ("1", "c", 2)]:
            r.xadd(keys.lease_log, {"shard": shard, "node": node, "epoch": epoch})
        assert epoch_violations(r, keys) == ["shard 1: epoch 2 after 2 (node c)"]
        r.xgroup_create(keys.inbox("3"), "own", id="0", mkstream=True)
        r.xadd(keys.inbox("3"), {"e": "{}"})
        assert inbox_violations(r, keys, 4) == ["inbox 3: 0 pending, 1 unread"]
        r.xreadgroup("own", "node-x", {keys.inbox("3"): ">"})  # read, never acknowledged
        assert inbox_violations(r, keys, 4) == ["inbox 3: 1 pending, 0 unread"]
        # a customer in two active sessions, and an agent past its capacity
        for sid in ("k1:a", "k1:b"):
            r.hset(keys.session(sid), mapping={"status": "active", "seq": 0,
                                               "message_count": 0})
            r.zadd(keys.user_sessions("k1"), {sid: 1})
            r.sadd(keys.active_sessions("k1"), sid)
            r.sadd(keys.active_sessions(sid.split(":")[1]), sid)
        r.hset(keys.assignments, "k1", "k1:a")
        found = violations(r, keys, ["k1"], {"a": 0, "b": 1})
        assert any("2 active sessions" in v for v in found)
        assert any(v == "a: 1 active sessions over its capacity 0" for v in found)
    finally:
        r.close()
        rs.stop()
