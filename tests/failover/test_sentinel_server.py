"""``kefu serve`` on a Redis under Sentinel (issue 13), against real processes: a primary,
a replica behind a holdable link and three sentinels (``kefu/testing/sentinel.py``).

- With ``KEFU_ACK_REPLICAS=1`` an ack and the peer's copy leave only once the replica has
  the message: with the replica held behind, the sender gets ``outcome_unknown`` and the
  peer nothing; once it catches up, the resend is acked with the same stored message.
- After ``kill -9`` of the primary the server follows the failover by itself: its sockets
  are closed with 1012, the scripts are loaded on the new primary, the history is there
  and new messages are stored on it; the failover is logged; backup and restore reach
  the new primary through the sentinels too.
- A lease a failover forgot: the epoch number comes again, for another node, and the
  fencing token (owner id and epoch) still refuses the old owner's writes.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.cluster.leases import ACQUIRE_LUA
from kefu.persistence import dispatch
from kefu.persistence.fencing import Fence, Fenced
from kefu.persistence.keys import Keys
from kefu.persistence.redis import Store
from kefu.persistence.redis_target import RedisTarget
from kefu.testing.processes import KEFU_BIN, wait_health
from kefu.testing.sentinel import SentinelLab
from tests.helpers import WS, Api, ServerProcess, open_pair

TIMEOUT_MS = 300


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[SentinelLab]:
    lab = SentinelLab(tmp_path / "sentinel")
    try:
        yield lab.start()
    finally:
        lab.stop()


def on_sentinel(lab: SentinelLab, root: Path, **env: str) -> ServerProcess:
    return ServerProcess(root, KEFU_REDIS_SENTINELS=lab.sentinels_env,
                         KEFU_REDIS_SENTINEL_MASTER=lab.master_name,
                         KEFU_ACK_REPLICAS_TIMEOUT_MS=str(TIMEOUT_MS), **env)


def test_an_ack_waits_for_the_replica(lab: SentinelLab, tmp_path: Path,
                                      spawned: list[ServerProcess], sockets: list[WS]) -> None:
    srv = on_sentinel(lab, tmp_path / "srv", KEFU_ACK_REPLICAS="1").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    pair = open_pair(srv, admin)
    sockets += [pair.c, pair.k]
    replica = lab.replica_client()
    session_key = f"kefu:session:{pair.sid}"

    pair.c.send(type="message", client_msg_id="m1", content="第一条")
    assert pair.c.expect("ack")["message"]["seq"] == 1
    assert replica.hget(session_key, "seq") == "1"  # acked: the replica has it
    pair.k.expect("message", where=lambda f: f["message"]["seq"] == 1)

    lab.hold_replica()
    pair.c.send(type="message", client_msg_id="m2", content="副本落后时")
    error = pair.c.expect("error", where=lambda f: f.get("ref") == "m2")
    assert error["code"] == "outcome_unknown"  # on the primary only: not acked
    assert not any(f.get("type") == "ack" for f in pair.c.drain())
    assert not [f for f in pair.k.drain() if f.get("type") == "message"]  # nor delivered
    assert replica.hget(session_key, "seq") == "1"

    lab.release_replica()
    pair.c.send(type="message", client_msg_id="m2", content="副本落后时")  # the resend
    acked = pair.c.expect("ack", where=lambda f: f["client_msg_id"] == "m2")["message"]
    assert acked["seq"] == 2 and acked["content"] == "副本落后时"
    assert replica.hget(session_key, "seq") == "2"
    assert pair.k.expect("message")["message"]["seq"] == 2
    page = admin.ok("GET", f"/api/sessions/{pair.sid}/messages", params={"limit": 10})
    assert [m["client_msg_id"] for m in page["messages"]] == ["m1", "m2"]  # stored once
    redis = admin.ok("GET", "/api/system/health")["redis"]
    assert redis["ack_replicas"] == 1 and redis["unconfirmed"] >= 1
    assert redis["target"] == f"sentinel://{lab.sentinels_env}/{lab.master_name}"


def test_a_failover_is_followed_by_itself(lab: SentinelLab, tmp_path: Path,
                                          spawned: list[ServerProcess],
                                          sockets: list[WS]) -> None:
    srv = on_sentinel(lab, tmp_path / "srv").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    pair = open_pair(srv, admin)
    sockets += [pair.c, pair.k]
    for i in range(5):
        pair.c.send(type="message", client_msg_id=f"a{i}", content=f"之前 {i}")
        pair.c.expect("ack", where=lambda f, i=i: f["client_msg_id"] == f"a{i}")
    lab.primary_client().execute_command("WAIT", 1, 2000)  # (the replica has them all)
    keys = Keys()
    lease_a = Store(RedisTarget(url=f"redis://127.0.0.1:{lab.primary_port}"))
    acquire = lease_a.client.register_script(ACQUIRE_LUA)
    lease = [keys.lease("7"), keys.epoch("7"), keys.lease_log]
    assert acquire(keys=lease, args=["node-a", 60_000, "7"]) == [1, 1]
    lease_a.client.execute_command("WAIT", 1, 2000)
    lease_a.client.delete(keys.lease("7"))  # a's lease ran out; then, the replica held,
    lab.hold_replica()                      # a takes shard 7 again: epoch 2, not replicated
    assert acquire(keys=lease, args=["node-a", 60_000, "7"]) == [1, 2]
    lab.drop_held()

    lab.kill_primary()
    lease_a.close()
    failover = lab.wait_failover(30)
    assert pair.c.wait_closed(15) == 1012  # clients start over: resume, fresh hello
    assert pair.k.wait_closed(15) == 1012
    wait_health(srv.base, 200, 15)
    assert srv.proc is not None and srv.proc.poll() is None  # the same process

    c = WS(srv.ws_url, pair.kehu.token)
    k = WS(srv.ws_url, pair.kefu.token)
    sockets += [c, k]
    hello = c.expect("hello")
    assert [s["session_id"] for s in hello["sessions"]] == [pair.sid]
    k.expect("hello")
    c.send(type="message", client_msg_id="after", content="切换之后")
    assert c.expect("ack", where=lambda f: f["client_msg_id"] == "after")[
        "message"]["seq"] == 6  # the append script was loaded on the new primary
    assert k.expect("message")["message"]["seq"] == 6
    host, port = lab.current_primary()
    assert port == lab.replica_port
    assert lab.replica_client().hget(f"kefu:session:{pair.sid}", "seq") == "6"
    page = admin.ok("GET", f"/api/sessions/{pair.sid}/messages", params={"limit": 10})
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5, 6]
    deadline = time.monotonic() + 10
    while True:
        logs = admin.ok("GET", "/api/system/logs", params={"limit": 50})["logs"]
        failovers = [e for e in logs if e["event"] == "failover"]
        if failovers:
            break
        assert time.monotonic() < deadline, [e["event"] for e in logs]
        time.sleep(0.05)  # polling the server's log over HTTP
    assert f"{host}:{port}" in str(failovers[0])
    redis = admin.ok("GET", "/api/system/health")["redis"]
    assert redis["primary"] == f"{host}:{port}" and redis["failovers"] == 1

    # the failover forgot epoch 2 of shard 7: node b takes it with the same epoch number,
    # and the token (owner id and epoch) still refuses the old owner's writes
    store = Store(RedisTarget(sentinels=tuple(lab.sentinels), master=lab.master_name))
    try:
        assert store.client.get(keys.epoch("7")) == "1"
        acquire = store.client.register_script(ACQUIRE_LUA)
        assert acquire(keys=lease, args=["node-b", 60_000, "7"]) == [1, 2]
        entry = dispatch.queue_entry_json("客户", "normal", time.time(), None, False)
        with pytest.raises(Fenced):
            dispatch.put_queue_entry(store, "kehu-x", entry, Fence(keys.lease("7"), "node-a|2"))
        dispatch.put_queue_entry(store, "kehu-y", entry, Fence(keys.lease("7"), "node-b|2"))
        assert "kehu-x" not in store.client.hkeys(keys.queue)
        assert store.client.hget(keys.fenced_count, "node-a") == "1"
        store.client.hdel(keys.queue, "kehu-y")
    finally:
        store.close()

    made = subprocess.run([KEFU_BIN, "backup"], env=srv.full_env, capture_output=True,
                          text=True, timeout=60)  # over REST, read from the new primary
    assert made.returncode == 0, made.stdout + made.stderr
    path = json.loads(made.stdout)["data"]["path"]
    srv.stop()
    lab.replica_client().delete(f"kefu:session:{pair.sid}")
    restored = subprocess.run([KEFU_BIN, "restore", path], env=srv.full_env,
                              capture_output=True, text=True, timeout=60)  # via Sentinel
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert lab.replica_client().hget(f"kefu:session:{pair.sid}", "seq") == "6"
    print(f"\nSentinel failover {failover:.2f} s; the server followed it by itself")

