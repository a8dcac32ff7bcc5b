"""Drill 4: a model-based test. A hypothesis ``RuleBasedStateMachine`` drives a real server
(its own embedded Redis, a fresh data directory per example) with connect, disconnect,
send, assign, switch, transfer, end, crash-actor and restart-server (SIGTERM or
``kill -9``, then a start on the same data directory). After every step:

- a kehu has at most one active session, hence one active kefu;
- no kefu is over its capacity;
- nobody is both queued and assigned;
- every session's ``seq`` is contiguous;
- what the clients saw equals what Redis holds: every acked message is stored exactly once
  (in its session, or kept for a kehu still waiting), nothing is stored that no client
  saw acked, every ``message``/``ack`` frame names the stored message at its ``seq``, no
  ``seq`` reaches one connection twice;
- the dispatcher's view (waiting list, each kefu's load) equals Redis.

CI runs a fixed seed (``CI_SEED``), derandomized. For longer local runs:
``KEFU_MODEL_SEED=7 KEFU_MODEL_EXAMPLES=20 KEFU_MODEL_STEPS=60 pytest tests/drills/test_model.py``
(or ``--hypothesis-seed=7``).
"""

from __future__ import annotations

import collections
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from kefu.drills.invariants import sessions_of, violations
from kefu.persistence.keys import Keys
from tests.helpers import WS, Api, ServerProcess

CI_SEED = 5  # chosen for coverage: every rule, both restarts, a transfer, queued sends
KEHU, KEFU, CAPACITY = 4, 2, 2
MAX_CRASHES = 3  # per actor and example: below KEFU_RESTART_INTENSITY (5)
TALLY: collections.Counter[str] = collections.Counter()  # what the runs did, printed


class ChatModel(RuleBasedStateMachine):
    """One real server; the users and what each client saw."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="kefu-model-"))
        self.start_servers()
        self.make_users(self.admin)

    def start_servers(self) -> None:
        self.srv = ServerProcess(self.dir / "srv", KEFU_FAULT_INJECTION="1",
                                 KEFU_AGENT_GRACE_SECONDS="600").start()
        self.admin = Api.login(self.srv.base, "admin", "admin-pass")

    def make_users(self, admin: Api) -> None:
        self.kefu: list[tuple[str, Api]] = [admin.create_kefu(max_sessions=CAPACITY)
                                            for _ in range(KEFU)]
        self.kehu: list[tuple[str, Api]] = [admin.guest(f"客户{i}") for i in range(KEHU)]
        self.tokens = {uid: api.token for uid, api in self.kefu + self.kehu}
        self.conns: dict[str, WS | None] = dict.fromkeys(self.tokens)
        self.checked: dict[int, int] = {}  # id(ws) → frames already checked
        self.delivered: dict[int, set[tuple[str, int]]] = {}
        self.acked: dict[str, dict[str, Any]] = {}  # message id → the acked message
        self.crashes: dict[str, int] = {}
        self.cmids = itertools.count()
        self.keys = Keys()

    def teardown(self) -> None:
        TALLY.update(examples=1, acked=len(self.acked))
        for ws in self.conns.values():
            if ws is not None:
                ws.close()
        self.srv.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers -----------------------------------------------------------------------

    def redis(self) -> redis.Redis:
        return self.srv.redis_client()

    def user(self, i: int, kind: str) -> str:
        pool = self.kehu if kind == "kehu" else self.kefu
        return pool[i % len(pool)][0]

    def active_sids(self, user_id: str) -> list[str]:
        r = self.redis()
        try:
            return sorted(r.smembers(self.keys.active_sessions(user_id)))
        finally:
            r.close()

    def answer(self, ws: WS, cmid: str) -> dict[str, Any]:
        """The ack or error for ``cmid`` (other frames are kept in ``ws.seen``)."""
        while True:
            f = ws.expect_one_of(("ack", "error"))
            if f.get("client_msg_id", f.get("ref")) == cmid:
                return f

    # --- rules -------------------------------------------------------------------------

    def online(self) -> list[str]:
        return [uid for uid, ws in self.conns.items() if ws is not None]

    def offline(self) -> list[str]:
        return [uid for uid, ws in self.conns.items() if ws is None]

    @initialize()
    def everyone_connects(self) -> None:
        for uid in list(self.conns):  # agents first, then customers
            self._connect(uid)

    @precondition(lambda self: self.offline())
    @rule(i=st.integers(0, KEHU + KEFU - 1))
    def connect(self, i: int) -> None:
        users = self.offline()
        self._connect(users[i % len(users)])

    def _connect(self, uid: str) -> None:
        ws = WS(self.srv.ws_url, self.tokens[uid])
        said = {s["session_id"] for s in ws.expect("hello")["sessions"]}
        self.conns[uid] = ws
        TALLY["connect"] += 1
        # an agent connecting may take waiting customers (the dispatcher does it after the
        # hello): an ask to the dispatcher orders us after that, then each is announced
        self.admin.ok("GET", "/api/kefu/waiting")
        active = set(self.active_sids(uid))
        assert said <= active
        for sid in sorted(active - said):
            ws.expect("assigned", where=lambda f, s=sid: f["session"]["session_id"] == s)

    def wait_connections(self) -> None:
        """Until the server has seen every close (its connection count = ours)."""
        want = sum(ws is not None for ws in self.conns.values())
        deadline = time.monotonic() + 10
        while self.admin.ok("GET", "/api/system/health")["connections"]["connections"] != want:
            assert time.monotonic() < deadline, "the server did not see a close"
            time.sleep(0.005)  # polling the server's connection count over HTTP
        self.admin.ok("GET", "/api/kefu/waiting")  # and the dispatcher has handled it

    @precondition(lambda self: self.online())
    @rule(i=st.integers(0, KEHU + KEFU - 1))
    def disconnect(self, i: int) -> None:
        users = self.online()
        uid = users[i % len(users)]
        ws = self.conns[uid]
        if ws is not None:
            self.check_frames(ws)
            ws.close()
            self.conns[uid] = None
            TALLY["disconnect"] += 1
            self.wait_connections()

    @precondition(lambda self: any(u.startswith("kehu") for u in self.online()))
    @rule(i=st.integers(0, KEHU - 1), n=st.integers(1, 3))
    def kehu_sends(self, i: int, n: int) -> None:
        users = [u for u in self.online() if u.startswith("kehu")]
        for _ in range(n):
            self._send(users[i % len(users)], named=False, i=i)

    @precondition(lambda self: any(u.startswith("kefu") for u in self.online()))
    @rule(i=st.integers(0, KEFU + KEHU - 1), n=st.integers(1, 3), named=st.booleans())
    def kefu_sends(self, i: int, n: int, named: bool) -> None:
        users = [u for u in self.online() if u.startswith("kefu")]
        for _ in range(n):
            self._send(users[i % len(users)], named=named, i=i)

    def _send(self, uid: str, named: bool, i: int) -> None:
        ws = self.conns[uid]
        assert ws is not None
        cmid = f"m{next(self.cmids)}"
        frame: dict[str, Any] = {"client_msg_id": cmid, "content": f"内容 {cmid}"}
        if uid.startswith("kefu") and named:
            sids = self.active_sids(uid)
            if sids:
                frame["session_id"] = sids[i % len(sids)]
        ws.send(type="message", **frame)
        f = self.answer(ws, cmid)
        if f["type"] == "ack":
            m = f["message"]
            assert m["id"] not in self.acked and m["content"] == frame["content"]
            self.acked[m["id"]] = m
            TALLY["send (queued)" if m["seq"] is None else "send"] += 1
        else:  # a kefu with nobody to talk to; nothing else may refuse a message
            TALLY["send refused"] += 1
            assert uid.startswith("kefu") and f["code"] in ("no_session",), f

    @rule(i=st.integers(0, KEHU - 1), j=st.integers(0, KEFU - 1))
    def assign(self, i: int, j: int) -> None:
        kehu, kefu = self.user(i, "kehu"), self.user(j, "kefu")
        r = self.admin.call("POST", f"/api/customer/{kehu}/assign", {"kefu_id": kefu})
        assert r.status_code in (200, 409), r.text
        TALLY[f"assign {r.status_code}"] += 1
        if r.status_code == 200:
            assert self.active_sids(kehu) == [f"{kehu}:{kefu}"]

    @rule(i=st.integers(0, KEHU - 1), j=st.integers(0, KEFU - 1))
    def switch(self, i: int, j: int) -> None:
        kehu, kefu = self.user(i, "kehu"), self.user(j, "kefu")
        r = self.admin.call("POST", f"/api/kefu/{kefu}/switch/{kehu}")
        assert r.status_code in (200, 404, 409), r.text
        TALLY[f"switch {r.status_code}"] += 1
        if r.status_code == 200:
            assert self.active_sids(kehu) == [f"{kehu}:{kefu}"]

    @rule(i=st.integers(0, KEHU - 1), j=st.integers(0, KEFU - 1))
    def transfer(self, i: int, j: int) -> None:
        kehu, kefu = self.user(i, "kehu"), self.user(j, "kefu")
        for sid in self.active_sids(kehu):
            r = self.admin.call("POST", f"/api/sessions/{sid}/transfer", {"to_kefu_id": kefu})
            assert r.status_code in (200, 409), r.text
            TALLY[f"transfer {r.status_code}"] += 1
            if r.status_code == 200:
                assert self.active_sids(kehu) == [f"{kehu}:{kefu}"]

    @rule(i=st.integers(0, KEHU - 1))
    def end(self, i: int) -> None:
        kehu = self.user(i, "kehu")
        for sid in self.active_sids(kehu):
            r = self.admin.call("POST", f"/api/sessions/{sid}/end")
            assert r.status_code == 200, r.text
            TALLY["end"] += 1
            assert sid not in self.active_sids(kehu)

    @rule(i=st.integers(0, 20))
    def crash_actor(self, i: int) -> None:
        actors = [a for a in self.admin.ok("GET", "/api/system/actors")["actors"]
                  if self.crashes.get(a["actor_id"], 0) < MAX_CRASHES and a["state"] == "running"]
        if not actors:
            return
        a = actors[i % len(actors)]
        self.admin.ok("POST", f"/api/system/actors/{a['actor_id']}/crash")
        self.crashes[a["actor_id"]] = self.crashes.get(a["actor_id"], 0) + 1
        TALLY[f"crash {a['kind']}"] += 1
        deadline = time.monotonic() + 10
        while True:  # until the supervisor has restarted it
            now = {x["actor_id"]: x for x in self.admin.ok("GET", "/api/system/actors")["actors"]}
            if now[a["actor_id"]]["restarts"] > a["restarts"]:
                assert now[a["actor_id"]]["state"] == "running"
                return
            assert time.monotonic() < deadline, f"{a['actor_id']} not restarted"
            time.sleep(0.005)  # polling the actor list over HTTP

    @rule(hard=st.booleans())
    def restart_server(self, hard: bool) -> None:
        for uid, ws in self.conns.items():
            if ws is not None:
                self.check_frames(ws)
            self.conns[uid] = None
        if hard:
            self.srv.kill9()
        else:
            assert self.srv.terminate() == 0
        TALLY["kill -9" if hard else "SIGTERM"] += 1
        for ws in self.conns.values():
            assert ws is None
        self.srv = ServerProcess(self.srv.data_dir, port=self.srv.port,
                                 KEFU_FAULT_INJECTION="1", KEFU_AGENT_GRACE_SECONDS="600").start()
        self.crashes.clear()  # restart intensity is counted per process

    # --- invariants --------------------------------------------------------------------

    def check_frames(self, ws: WS) -> None:
        """Every message/ack frame this connection got names the stored message."""
        ws.drain()
        done = self.checked.get(id(ws), 0)
        got = self.delivered.setdefault(id(ws), set())
        r = self.redis()
        try:
            for f in ws.seen[done:]:
                m = f.get("message") if f.get("type") in ("message", "ack") else None
                if m is None or m.get("seq") is None:
                    continue
                key = (m["session_id"], m["seq"])
                if f["type"] == "message":
                    assert key not in got, f"seq delivered twice on one connection: {key}"
                got.add(key)
                raw = r.xrange(self.keys.stream(m["session_id"]), f"0-{m['seq']}",
                               f"0-{m['seq']}")
                assert raw and orjson.loads(raw[0][1]["m"])["id"] == m["id"], f
        finally:
            r.close()
        self.checked[id(ws)] = len(ws.seen)

    @invariant()
    def routing_is_sound(self) -> None:
        kehu_ids = [k for k, _ in self.kehu]
        r = self.redis()
        try:
            assert violations(r, self.keys, kehu_ids,
                              {k: CAPACITY for k, _ in self.kefu}) == []
            # what the clients saw acked = what Redis holds, each exactly once
            stored: dict[str, dict[str, Any]] = {}
            for sid in sessions_of(r, self.keys, kehu_ids):
                for _id, f in r.xrange(self.keys.stream(sid)):
                    m = orjson.loads(f["m"])
                    assert m["id"] not in stored, f"stored twice: {m}"
                    stored[m["id"]] = m
            for kehu in kehu_ids:
                for raw in r.lrange(self.keys.waiting_messages(kehu), 0, -1):
                    m = orjson.loads(raw)
                    assert m["id"] not in stored, f"stored twice: {m}"
                    stored[m["id"]] = m
            assert set(stored) == set(self.acked)
            for mid, m in self.acked.items():
                assert stored[mid]["content"] == m["content"]
                if m["seq"] is not None:
                    assert (stored[mid]["session_id"], stored[mid]["seq"]) == (
                        m["session_id"], m["seq"])
            queue = set(r.hkeys(self.keys.queue))
            loads = {k: len(r.smembers(self.keys.active_sessions(k))) for k, _ in self.kefu}
        finally:
            r.close()
        # the dispatcher's memory agrees with Redis
        waiting = self.admin.ok("GET", "/api/kefu/waiting")["waiting_customers"]
        assert {w["customer_id"] for w in waiting} == queue & set(kehu_ids)
        for kefu_id, n in loads.items():
            w = self.admin.ok("GET", f"/api/kefu/{kefu_id}/workload")["workload"]
            assert w["active_sessions"] == n
        for ws in self.conns.values():
            if ws is not None:
                self.check_frames(ws)


def model_settings(request: pytest.FixtureRequest, ci_seed: int = CI_SEED,
                   examples: int = 4) -> tuple[int, settings]:
    chosen = os.environ.get("KEFU_MODEL_SEED") or request.config.getoption(
        "--hypothesis-seed", default=None)
    s = settings(max_examples=int(os.environ.get("KEFU_MODEL_EXAMPLES", str(examples))),
                 stateful_step_count=int(os.environ.get("KEFU_MODEL_STEPS", "30")),
                 deadline=None, database=None, derandomize=chosen is None,
                 suppress_health_check=list(HealthCheck), print_blob=True)
    return int(chosen) if chosen is not None else ci_seed, s


def run_model(request: pytest.FixtureRequest, model: type[ChatModel], label: str,
              ci_seed: int = CI_SEED, examples: int = 4) -> None:
    """Run ``model`` with the seed and sizes chosen (``model_settings``); print the tally."""
    from hypothesis.stateful import run_state_machine_as_test  # noqa: PLC0415

    chosen, s = model_settings(request, ci_seed, examples)
    factory = seed(chosen)(lambda: model())
    TALLY.clear()
    try:
        run_state_machine_as_test(factory, settings=s)
    finally:
        print(f"\n{label} (seed {chosen}): {dict(sorted(TALLY.items()))}")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_chat_model(request: pytest.FixtureRequest) -> None:
    run_model(request, ChatModel, "model")
