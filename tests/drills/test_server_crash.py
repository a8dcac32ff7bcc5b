"""Drill 1, the CI size of ``scripts/chaos``: ``kill -9`` of the server, or of its Redis
(which the server then starts again by itself), in the middle of real WebSocket traffic;
clients reconnect, resend and resume. Nothing acked may be lost, nothing stored twice, no
``seq`` skipped, no delivery missed.

Also: the drill's own checker catches a lost message, a duplicate and a gap (a drill
that cannot fail proves nothing)."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from kefu.drills.chaos import ChaosConfig, run_one
from kefu.drills.client import DrillClient
from kefu.drills.ledger import tally
from kefu.persistence.keys import Keys
from tests.helpers import RedisServer

CI_RUNS = [("server", 1), ("server", 2), ("redis", 1), ("redis", 2)]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("mode", "seed"), CI_RUNS)
def test_kill9_during_traffic_loses_nothing(mode: str, seed: int, tmp_path: Path) -> None:
    res = run_one(ChaosConfig(seed=seed, mode=mode, messages=1000, rate=300, kehu=15, kefu=3),
                  root=tmp_path)
    print(res.line())
    f = res.figures
    assert res.completed
    # the fault really hit the traffic ...
    if mode == "server":
        assert "server restarted" in res.events and f.reconnects >= 18  # every client
    else:  # the server restarted its Redis by itself; sends meanwhile were refused
        assert "redis restarted by the server, health 200" in res.events
        assert f.errors.get("storage_unavailable", 0) + f.errors.get("outcome_unknown", 0) > 0
    # ... and nothing was lost, doubled or skipped
    assert f.attempted == f.acked == f.stored == 1000
    assert {k: getattr(f, k) for k in f.FAILURES} == dict.fromkeys(f.FAILURES, 0)


def _client(user_id: str) -> DrillClient:
    return DrillClient("ws://unused", "t", user_id, "kehu", random.Random(0))


def test_the_checker_catches_loss_duplicates_and_gaps(tmp_path: Path) -> None:
    rs = RedisServer(tmp_path / "r").start()
    r = rs.client(decode_responses=True)
    keys = Keys()
    try:
        def store(sid: str, seqs: list[int], cmids: list[str]) -> list[dict]:
            msgs = []
            for seq, cmid in zip(seqs, cmids, strict=True):
                m = {"id": f"msg_{sid}_{seq}", "session_id": sid, "seq": seq,
                     "client_msg_id": cmid, "from": "a", "to": "b", "content": cmid}
                r.xadd(keys.stream(sid), {"m": orjson.dumps(m)}, id=f"0-{seq}")
                msgs.append(m)
            r.hset(keys.session(sid), mapping={"seq": len(seqs), "message_count": len(seqs)})
            return msgs

        good = store("u1:k1", [1, 2, 3], ["a", "b", "c"])
        dup = store("u2:k1", [1, 2], ["d", "d"])  # one client_msg_id stored twice
        store("u3:k1", [1, 3], ["e", "f"])  # seq 2 missing
        c1, c2, c3 = _client("u1"), _client("u2"), _client("u3")
        for m in good:
            c1.acks[m["client_msg_id"]] = m
            c1.seen["u1:k1"].add(m["seq"])
        c1.acks["lost"] = {**good[0], "id": "msg_never_stored"}  # acked, not in Redis
        c2.acks["d"] = dup[0]
        c2.seen["u2:k1"].update({1, 2})
        c3.seen["u3:k1"].update({1})  # never got seq 2 (it does not exist) nor 3
        fig = tally(r, keys, [c1, c2, c3], ["u1:k1", "u2:k1", "u3:k1"],
                    {"a", "b", "c", "d", "e", "f", "lost", "never"})
        assert fig.lost == 1 and fig.duplicated == 1 and fig.gaps == 1
        assert fig.unacked == 3  # e, f, never
        assert fig.missed == 1  # u3 never received the message stored at entry 0-3
        assert not fig.ok
    finally:
        r.close()
        rs.stop()
