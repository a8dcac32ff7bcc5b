"""Deleting a message leaves a tombstone everywhere (seed 4.5): detail, history, list,
search, export, WebSocket resume, plus an audit entry. A module of its own — its own
server and corpus — because a deletion changes what every other messages test counts."""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from tests.e2e.message_corpus import (
    PER_SIDE,
    Corpus,
    export,
    listing,
    parse_export,
    search_all,
)
from tests.helpers import WS, Api, ServerProcess


def audit_entries(server: ServerProcess) -> list[dict[str, str]]:
    found = re.search(r"embedded redis-server \d+ on (\S+)", server.log.read_text())
    assert found, "embedded Redis socket not in the server log"
    client = redis.Redis(unix_socket_path=found.group(1), decode_responses=True)
    try:
        return [fields for _id, fields in client.xrange("kefu:audit")]
    finally:
        client.close()


def test_delete_leaves_tombstone_everywhere(server: ServerProcess, admin: Api,
                                            corpus: Corpus) -> None:
    sid = corpus.sids[0]
    kehu_api, kefu_api = corpus.kehu[0][1], corpus.kefu[0][1]
    refund_before, _ = search_all(admin, keyword="refund")
    victims = [m for m in corpus.messages if m["session_id"] == sid
               and "refund" in m["content"].lower()][:3]
    for m in victims:
        data = admin.ok("DELETE", f"/api/messages/{m['id']}")
        assert data["deleted"] is True and data["already_deleted"] is False
        assert (data["message_id"], data["session_id"], data["seq"]) == (m["id"], sid, m["seq"])
        assert data["deleted_by"] == "admin"
    again = admin.ok("DELETE", f"/api/messages/{victims[0]['id']}")
    assert again["already_deleted"] is True
    assert admin.call("DELETE", "/api/messages/msg_nope").status_code == 404
    gone = {m["id"] for m in victims}

    def is_tomb(m: dict[str, Any]) -> bool:
        return m["content"] == "" and m["deleted"] is True and m["url"] is None

    # detail
    detail = kehu_api.ok("GET", f"/api/messages/{victims[0]['id']}")["message"]
    assert is_tomb(detail) and detail["seq"] == victims[0]["seq"]
    # session history: same seq, no gap
    seqs = sorted(m["seq"] for m in victims)
    history = [m for n in range(1, 2 * PER_SIDE // 200 + 1)
               for m in kefu_api.ok("GET", f"/api/sessions/{sid}/messages",
                                    params={"page": n, "limit": 200})["messages"]]
    assert [m["seq"] for m in history] == list(range(1, 2 * PER_SIDE + 1))
    assert {m["seq"] for m in history if is_tomb(m)} == set(seqs)
    assert {m["id"] for m in history if is_tomb(m)} == gone
    # list: still counted, shown as tombstones; search: no longer matches the keyword
    total, listed = listing(admin, to_user=corpus.kefu[0][0])
    total2, listed2 = listing(admin, to_user=corpus.kehu[0][0])
    assert total + total2 == 2 * PER_SIDE
    assert {m["id"] for m in listed + listed2 if is_tomb(m)} == gone
    refund_after, found = search_all(admin, keyword="refund")
    assert refund_after == refund_before - len(victims) and not gone & {m["id"] for m in found}
    _, in_session = search_all(admin, session_id=sid)
    assert len(in_session) == 2 * PER_SIDE
    assert all(is_tomb(m) for m in in_session if m["id"] in gone)
    # export
    r, _ = export(admin, {"format": "ndjson", "session_id": sid})
    exported = parse_export("ndjson", r.text)
    assert {m["id"] for m in exported if m.get("deleted")} == gone
    # WebSocket resume replays the tombstone, in place
    ws = WS(server.ws_url, kefu_api.token)
    ws.expect("hello")
    ws.send(type="resume", since={sid: seqs[0] - 1})
    ws.expect("resumed", timeout=20)
    replay = [f["message"] for f in ws.seen if f["type"] == "message"]
    assert replay[0]["seq"] == seqs[0] and is_tomb(replay[0])
    assert [m["seq"] for m in replay] == list(range(seqs[0], 2 * PER_SIDE + 1))
    ws.close()
    # audit: one entry per deletion (none for the repeat)
    entries = [e for e in audit_entries(server) if e["action"] == "message.delete"]
    assert sorted(e["target"] for e in entries) == sorted(gone)
    assert all(e["by"] == "admin" and e["role"] == "admin" and float(e["ts"]) > 0
               for e in entries)
    assert {json.loads(e["detail"])["session_id"] for e in entries} == {sid}
