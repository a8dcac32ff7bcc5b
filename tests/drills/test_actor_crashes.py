"""Drill 2: 100 injected crashes of session, agent and dispatcher actors during traffic
over 20 sessions (``KEFU_FAULT_INJECTION``). Each actor is restarted from its snapshot and
nothing it was handed is lost; its recovered state is what the stored history implies.
Past the restart intensity an actor is failed: health 503, the system log says so, its
sender gets ``actor_failed``, every other session goes on as before.

The crash schedule is seeded (``CRASH_SEED``); the restart latencies (crash injected →
the supervisor's restart visible in ``/api/system/actors``) are printed."""

from __future__ import annotations

import collections
import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kefu.drills.invariants import violations
from kefu.drills.ledger import stored_messages
from kefu.persistence.keys import Keys
from tests.helpers import WS, Api, ServerProcess

CRASH_SEED = 5
KEFU, PER_KEFU, ROUNDS = 4, 5, 12
PLAN = {"session": 4, "agent": 4, "dispatcher": 4}  # crashes per actor: 80 + 16 + 4 = 100


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` (an HTTP read of the server) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.005)  # polling the server's actor list over HTTP


def actors(admin: Api) -> dict[str, dict[str, Any]]:
    return {a["actor_id"]: a for a in admin.ok("GET", "/api/system/actors")["actors"]}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_hundred_actor_crashes_during_traffic(tmp_path: Path, spawned: list[ServerProcess],
                                              sockets: list[WS]) -> None:
    srv = ServerProcess(tmp_path / "srv", KEFU_FAULT_INJECTION="1",
                        KEFU_AGENT_GRACE_SECONDS="600").start()
    spawned.append(srv)
    admin = Api.login(srv.base, "admin", "admin-pass")
    kefus = []
    for _ in range(KEFU):
        kefu_id, kefu = admin.create_kefu(max_sessions=PER_KEFU)
        k = WS(srv.ws_url, kefu.token)
        sockets.append(k)
        k.expect("hello")
        kefus.append((kefu_id, k))
    kehus = []
    for _ in range(KEFU * PER_KEFU):
        kehu_id, kehu = admin.guest()
        c = WS(srv.ws_url, kehu.token)
        sockets.append(c)
        c.expect("hello")
        c.send(type="request_service")
        kehus.append((kehu_id, c, c.expect("assigned")["session"]["session_id"]))
    sids = [sid for _, _, sid in kehus]

    # -- traffic, one round after every few crashes (no sleeps: paced by the crashes) ---
    rounds = threading.Semaphore(0)
    sent: dict[str, list[str]] = collections.defaultdict(list)  # user → cmids

    def traffic() -> None:
        for r in range(ROUNDS):
            rounds.acquire()
            for kehu_id, c, _sid in kehus:
                c.send(type="message", client_msg_id=f"{kehu_id}-{r}", content=f"客户 {r}")
                sent[kehu_id].append(f"{kehu_id}-{r}")
            for kefu_id, k in kefus:  # no session_id: through the agent, to its focus
                k.send(type="message", client_msg_id=f"{kefu_id}-{r}", content=f"客服 {r}")
                sent[kefu_id].append(f"{kefu_id}-{r}")

    sender = threading.Thread(target=traffic)
    sender.start()
    targets = ([f"session:{sid}" for sid in sids] * PLAN["session"]
               + [f"agent:{kid}" for kid, _ in kefus] * PLAN["agent"]
               + ["dispatcher:main"] * PLAN["dispatcher"])
    random.Random(CRASH_SEED).shuffle(targets)
    assert len(targets) == 100
    expected = {a: n["restarts"] for a, n in actors(admin).items()}
    latencies = []
    rounds.release()
    for i, actor_id in enumerate(targets):
        started = time.monotonic()
        admin.ok("POST", f"/api/system/actors/{actor_id}/crash")
        expected[actor_id] = expected.get(actor_id, 0) + 1
        wait_until(lambda a=actor_id: (x := actors(admin)[a])["restarts"] == expected[a]
                   and x["state"] == "running")
        latencies.append(time.monotonic() - started)
        if i % 9 == 8:
            rounds.release()
    for _ in range(ROUNDS):
        rounds.release()
    sender.join(30)
    print(f"\n100 crashes: restart latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")

    # -- every message handed to a crashing actor was stored once and acked ---------------
    acks: dict[str, dict[str, Any]] = {}
    for (user, ws) in [(k, c) for k, c, _ in kehus] + kefus:
        want = set(sent[user])
        while not want <= set(acks):
            f = ws.expect_one_of(("ack", "error"), timeout=15)
            assert f["type"] == "ack", f  # a crash is not a refusal
            acks[f["client_msg_id"]] = f["message"]
    r = srv.redis_client()
    keys = Keys()
    stored: dict[str, dict[str, Any]] = {}
    for kehu_id, _c, sid in kehus:
        msgs, gap_free = stored_messages(r, keys, sid)
        assert gap_free, sid
        for m in msgs:
            assert m["client_msg_id"] not in stored  # never stored twice
            stored[m["client_msg_id"]] = m
        # recovered state = stored history: counters by side, next seq
        meta = r.hgetall(keys.session(sid))
        by_side = collections.Counter("kehu" if m["from"] == kehu_id else "kefu" for m in msgs)
        assert (int(meta["kehu_messages"]), int(meta["kefu_messages"])) == (
            by_side["kehu"], by_side["kefu"])
    assert {c: (m["id"], m["seq"]) for c, m in acks.items()} == {
        c: (m["id"], m["seq"]) for c, m in stored.items()}
    assert len(stored) == ROUNDS * (len(kehus) + len(kefus))

    now = actors(admin)
    for actor_id, n in collections.Counter(targets).items():
        assert now[actor_id]["restarts"] == n and now[actor_id]["state"] == "running"
    logged = admin.ok("GET", "/api/system/logs", params={"limit": 1000})["logs"]
    restarts = [e for e in logged if e["event"] == "actor_restarted"
                and "injected fault" in str(e["fields"].get("error"))]
    assert len(restarts) == 100
    assert violations(r, keys, [k for k, _, _ in kehus], {k: PER_KEFU for k, _ in kefus}) == []
    waiting = admin.ok("GET", "/api/kefu/waiting")["total"]
    assert waiting == 0
    for kefu_id, _k in kefus:  # the restarted dispatcher knows each agent's load
        w = admin.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]
        assert (w["active_sessions"], w["connections"]) == (PER_KEFU, 1)
    next_seq = {sid: len(stored_messages(r, keys, sid)[0]) + 1 for sid in sids}
    for kehu_id, c, sid in kehus:  # each restarted session numbers on from what is stored
        c.send(type="message", client_msg_id=f"{kehu_id}-next", content="再来一条")
        ack = c.expect("ack", where=lambda f, k=kehu_id: f["client_msg_id"] == f"{k}-next")
        assert ack["message"]["seq"] == next_seq[sid]
        next_seq[sid] += 1
    assert admin.call("GET", "/api/system/health").status_code == 200

    # -- past the restart intensity: failed, 503, logged; the others unaffected ---------
    victim_kehu, victim, victim_sid = kehus[0]
    victim_id = f"session:{victim_sid}"
    for _ in range(6):  # it has 4 restarts within KEFU_RESTART_PERIOD already; limit 5
        admin.ok("POST", f"/api/system/actors/{victim_id}/crash")
        before = expected[victim_id]
        expected[victim_id] += 1
        state = wait_until(lambda b=before: (x := actors(admin)[victim_id])["state"] == "failed"
                           and "failed" or (x["restarts"] == b + 1 and "restarted"))
        if state == "failed":
            break
    assert state == "failed" and expected[victim_id] == 6
    health = admin.call("GET", "/api/system/health")
    assert health.status_code == 503
    assert health.json()["data"]["actors"]["failed"] == [victim_id]
    errors = admin.ok("GET", "/api/system/logs", params={"level": "error"})["logs"]
    assert any(e["event"] == "actor_failed" and e["actor"] == victim_id for e in errors)
    victim.send(type="message", client_msg_id="refused", content="x")
    assert victim.expect("error", where=lambda f: f["ref"] == "refused")["code"] == "actor_failed"
    for kehu_id, c, sid in kehus[1:]:
        c.send(type="message", client_msg_id=f"{kehu_id}-after", content="别的会话照常")
        ack = c.expect("ack", where=lambda f, k=kehu_id: f["client_msg_id"] == f"{k}-after")
        assert ack["message"]["seq"] == next_seq[sid]
    assert all(a["state"] == "running" for a_id, a in actors(admin).items() if a_id != victim_id)

    admin.ok("POST", f"/api/system/actors/{victim_id}/restart")  # the operator
    assert admin.call("GET", "/api/system/health").status_code == 200
    victim.send(type="message", client_msg_id="refused", content="x")
    ack = victim.expect("ack", where=lambda f: f["client_msg_id"] == "refused")
    assert ack["message"]["seq"] == next_seq[victim_sid]
    assert stored_messages(r, keys, victim_sid)[1]
    r.close()
