"""Ids a client makes up cost an ``error`` frame and nothing else (issue 10, items 1, 3, 4).

A session id that holds the caller's own id but names no session used to start a
session actor per ``read``/``rate`` frame (a thread each, lingering 60 s), to relay
``typing`` to whoever the other half named, and to keep a seq tracker per made-up id in
``resume``. Here one guest (and one agent) sends thousands of such frames; the server's
threads, its session actors and its Redis keys do not move, and only the two participants
of an active session ever see ``typing``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kefu.bench.server import proc_status
from tests.helpers import WS, Api, ServerProcess, connect, open_pair


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own (its thread count is measured), typing throttled at 1 s."""
    srv = ServerProcess(Path(tmp_path_factory.mktemp("bogus")),
                        KEFU_TYPING_INTERVAL_SECONDS="1").start()
    yield srv
    srv.stop()


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


def redis_keys(server: ServerProcess, pattern: str) -> list[str]:
    r = server.redis_client()
    try:
        return list(r.scan_iter(match=pattern, count=1000))
    finally:
        r.close()


def session_actors(admin: Api) -> set[str]:
    return {a["id"] for a in admin.ok("GET", "/api/system/actors",
                                      params={"kind": "session"})["actors"]}


def errors(ws: WS, n: int) -> list[dict[str, Any]]:
    return [ws.expect("error") for _ in range(n)]


def test_read_rate_and_message_to_made_up_sessions_start_nothing(
        server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    assert server.proc is not None
    kehu_id, guest = admin.guest()
    kefu_id, kefu = admin.create_kefu()
    c, k = connect(server, guest, sockets), connect(server, kefu, sockets)
    actors_before = session_actors(admin)
    before = proc_status(server.proc.pid)
    n = 1500
    for i in range(n):
        c.send(type="read", session_id=f"{kehu_id}:ghost{i}", seq=1)
    for i in range(n // 3):
        c.send(type="rate", session_id=f"{kehu_id}:ghost{i}", score=5)
    for i in range(n // 3):
        k.send(type="message", client_msg_id=f"m{i}", content="hi",
               session_id=f"ghost{i}:{kefu_id}")
    got = errors(c, n + n // 3) + errors(k, n // 3)
    assert {e["code"] for e in got} == {"session_not_found"}
    assert [e["ref"] for e in got[-(n // 3):]] == [f"m{i}" for i in range(n // 3)]
    after = proc_status(server.proc.pid)
    assert after["threads"] - before["threads"] <= 4, (before, after)  # was +1 per frame
    assert session_actors(admin) == actors_before  # no actor, not even a stopped handle
    assert redis_keys(server, "*ghost*") == []  # and no key


def test_typing_reaches_only_the_other_participant_of_an_active_session(
        server: ServerProcess, admin: Api, sockets: list[WS]) -> None:
    pair = open_pair(server, admin)
    sockets += [pair.c, pair.k]
    stranger_id, stranger = admin.guest()
    other_kefu_id, other_kefu = admin.create_kefu()
    s, o = connect(server, stranger, sockets), connect(server, other_kefu, sockets)
    # a guest names an agent, the agent names a stranger, a guest names the admin
    s.send(type="typing", session_id=f"{stranger_id}:{pair.kefu_id}")
    s.send(type="typing", session_id=f"{stranger_id}:admin")
    pair.k.send(type="typing", session_id=f"{stranger_id}:{pair.kefu_id}")
    o.send(type="typing", session_id=f"{pair.kehu_id}:{other_kefu_id}")
    # the real pair: a message to mark read, then typing ×5 and a read mark. The
    # connection handles frames in order and relays an allowed typing before reading the
    # next frame, so the agent sees every relayed typing before the ``read``
    pair.k.send(type="message", client_msg_id="k1", content="您好", session_id=pair.sid)
    pair.c.expect("message")
    for _ in range(5):
        pair.c.send(type="typing", session_id=pair.sid)
    pair.c.send(type="read", session_id=pair.sid, seq=1)
    pair.k.expect("read")
    typing = [f for f in pair.k.seen if f["type"] == "typing"]
    assert [(f["session_id"], f["user_id"]) for f in typing] == [(pair.sid, pair.kehu_id)]
    for ws in (s, o, pair.c):  # the strangers and the kehu saw none
        ws.send(type="ping")
        ws.expect("pong")
        assert not [f for f in ws.seen if f["type"] == "typing"]


def test_typing_in_an_ended_session_is_not_relayed(server: ServerProcess, admin: Api,
                                                   sockets: list[WS]) -> None:
    pair = open_pair(server, admin)
    sockets += [pair.c, pair.k]
    pair.kefu.ok("POST", f"/api/sessions/{pair.sid}/end")
    pair.k.expect("session_ended")
    pair.c.expect("session_ended")
    pair.c.send(type="typing", session_id=pair.sid)
    pair.c.send(type="rate", session_id=pair.sid, score=4)
    pair.c.expect("rated")
    pair.k.send(type="ping")
    pair.k.expect("pong")
    assert not [f for f in pair.k.seen if f["type"] == "typing"]


def test_resume_with_made_up_ids_keeps_nothing(server: ServerProcess, admin: Api,
                                               sockets: list[WS]) -> None:
    assert server.proc is not None
    pair = open_pair(server, admin)
    sockets += [pair.c, pair.k]
    pair.c.send(type="message", client_msg_id="c1", content="在吗")
    pair.c.expect("ack")
    before = proc_status(server.proc.pid)
    frames, per_frame = 200, 200  # 40,000 made-up ids on one socket
    for f in range(frames):
        since = {f"{pair.kehu_id}:ghost{f}_{i}": 0 for i in range(per_frame)}
        pair.c.send(type="resume", since=since)
        (err,) = errors(pair.c, 1)  # one frame names them all
        assert err["code"] == "session_not_found" and err["session_ids"] == list(since)
    after = proc_status(server.proc.pid)
    assert not [x for x in pair.c.seen if x["type"] == "resumed"]  # nothing was resumed
    # was ~20 MB for 40,000 ids (a tracker each until the socket closed)
    assert after["rss_kib"] - before["rss_kib"] < 8 * 1024, (before, after)
    # a real session in the same frame as made-up ones is still served (on a new socket:
    # the first one holds c1 already, its ack counted)
    c2 = connect(server, pair.kehu, sockets)
    c2.send(type="resume", since={"ghost:x": 0, pair.sid: 0, f"{pair.kehu_id}:nope": 0})
    assert c2.expect("error")["session_ids"] == ["ghost:x", f"{pair.kehu_id}:nope"]
    replayed = c2.expect("message")
    assert replayed["message"]["client_msg_id"] == "c1"
    assert c2.expect("resumed")["session_id"] == pair.sid
