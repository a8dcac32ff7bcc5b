"""Messages REST (seed 4.1–4.5) over a few thousand real messages sent through WebSockets:
exact totals per filter, search, export in three formats matching the search, roles, and
delete → tombstone everywhere (detail, history, list, search, export, WS resume) plus an
audit entry.

The module has its own server (the ``server`` fixture is per module), so every message it
holds is one this module sent; the delete test runs last (it changes search results).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
import redis

from kefu.http.handlers.messages import ContentTypeName
from kefu.http.wire import ContentType
from tests.helpers import WS, Api, ServerProcess

PAIRS, PER_SIDE, WINDOW = 3, 500, 100
FIELDS = {"id", "from", "to", "content", "content_type", "timestamp", "url", "session_id",
          "seq"}


def content(pair: int, side: str, i: int) -> str:
    words = [f"p{pair}{side}{i}"]
    if i % 7 == 0:
        words.append("Refund")
    if i % 11 == 0:
        words.append("REFUND请求")
    if i % 5 == 0:
        words.append("订单")
    return " ".join(words)


def ctype(side: str, i: int) -> str:
    if side == "kehu":
        return "Image" if i % 10 == 3 else "Text"
    return "File" if i % 13 == 0 else ("Link" if i % 17 == 0 else "Text")


def blast(ws: WS, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``frames`` keeping at most WINDOW unacknowledged → the stored messages."""
    stored = []
    for start in range(0, len(frames), WINDOW):
        chunk = frames[start:start + WINDOW]
        for f in chunk:
            ws.send(type="message", **f)
        stored += [ws.expect("ack", timeout=30)["message"] for _ in chunk]
    return stored


class Corpus:
    def __init__(self) -> None:
        self.kefu: list[tuple[str, Api, WS]] = []
        self.kehu: list[tuple[str, Api, WS]] = []
        self.sids: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}

    def ids(self, pred: Any) -> set[str]:
        return {m["id"] for m in self.messages if pred(m)}


@pytest.fixture(scope="module")
def corpus(server: ServerProcess) -> Any:
    admin = Api.login(server.base, "admin", "admin-pass")
    c = Corpus()
    jobs = []
    for p in range(PAIRS):
        kefu_id, kefu = admin.create_kefu()
        k = WS(server.ws_url, kefu.token)
        k.expect("hello")
        kehu_id, kehu = admin.guest()
        w = WS(server.ws_url, kehu.token)
        w.expect("hello")
        w.send(type="request_service")
        sid = w.expect("assigned")["session"]["session_id"]
        assert sid == f"{kehu_id}:{kefu_id}"
        k.expect("assigned")
        c.kefu.append((kefu_id, kefu, k))
        c.kehu.append((kehu_id, kehu, w))
        c.sids.append(sid)
        for side, ws in (("kehu", w), ("kefu", k)):
            frames = []
            for i in range(PER_SIDE):
                ct = ctype(side, i)
                f: dict[str, Any] = {"client_msg_id": f"{side}{i}", "content": content(p, side, i),
                                     "content_type": ct}
                if ct != "Text":
                    f["url"] = f"https://files.example/{p}/{side}/{i}"
                if side == "kefu":
                    f["session_id"] = sid
                frames.append(f)
            jobs.append((ws, frames))
    started = time.perf_counter()
    with ThreadPoolExecutor(len(jobs)) as pool:
        for stored in pool.map(lambda job: blast(*job), jobs):
            c.messages += stored
    elapsed = time.perf_counter() - started
    print(f"\ncorpus: {len(c.messages)} messages acked in {elapsed:.2f}s")
    c.by_id = {m["id"]: m for m in c.messages}
    yield c
    for _, _, ws in c.kefu + c.kehu:
        ws.close()


def listing(admin: Api, **params: Any) -> tuple[int, list[dict[str, Any]]]:
    """Every page of GET /api/messages (limit 200) → (total, messages in server order)."""
    out: list[dict[str, Any]] = []
    page, total = 1, None
    while True:
        data = admin.ok("GET", "/api/messages", params={**params, "page": page, "limit": 200})
        pg = data["pagination"]
        total = pg["total"] if total is None else total
        assert pg["total"] == total and pg["total_pages"] == (total + 199) // 200
        out += data["messages"]
        if not pg["has_more"]:
            break
        page += 1
    assert len(out) == total and len({m["id"] for m in out}) == total
    return total, out


def search_all(admin: Api, **body: Any) -> tuple[int, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = admin.ok("POST", "/api/messages/search", {**body, "page": page, "limit": 200})
        out += data["messages"]
        if not data["pagination"]["has_more"]:
            break
        page += 1
    total = data["pagination"]["total"]
    assert len(out) == total and len({m["id"] for m in out}) == total
    return total, out


def newest_first(msgs: list[dict[str, Any]]) -> bool:
    stamps = [m["timestamp"] for m in msgs]
    return stamps == sorted(stamps, reverse=True)


def test_list_contract_and_exact_totals(admin: Api, corpus: Corpus) -> None:
    assert len(corpus.messages) == PAIRS * PER_SIDE * 2
    data = admin.ok("GET", "/api/messages")
    assert data["pagination"] == {"page": 1, "limit": 20, "total": len(corpus.messages),
                                  "total_pages": len(corpus.messages) // 20, "has_more": True}
    assert len(data["messages"]) == 20 and newest_first(data["messages"])
    for m in data["messages"]:
        assert m.keys() >= FIELDS and m == corpus.by_id[m["id"]]
    kehu0, kefu0, kefu1 = corpus.kehu[0][0], corpus.kefu[0][0], corpus.kefu[1][0]
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"from_user": kehu0}, lambda m: m["from"] == kehu0),
        ({"to_user": kefu1}, lambda m: m["to"] == kefu1),
        ({"content_type": "Image"}, lambda m: m["content_type"] == "Image"),
        ({"from_user": kefu0, "content_type": "File"},
         lambda m: m["from"] == kefu0 and m["content_type"] == "File"),
        ({"from_user": kehu0, "to_user": kefu0}, lambda m: m["from"] == kehu0),
        ({"from_user": kehu0, "to_user": kefu1}, lambda m: False),
        ({"to_user": kefu0, "content_type": "Text"},
         lambda m: m["to"] == kefu0 and m["content_type"] == "Text"),
    ]
    stamps = sorted({m["timestamp"] for m in corpus.messages})
    mid = stamps[len(stamps) // 2]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cases += [
        ({"end_date": mid}, lambda m: m["timestamp"] <= mid),
        ({"start_date": mid}, lambda m: m["timestamp"] >= mid),
        ({"start_date": mid, "end_date": mid}, lambda m: m["timestamp"] == mid),
        ({"start_date": mid, "from_user": kehu0},
         lambda m: m["timestamp"] >= mid and m["from"] == kehu0),
        ({"end_date": today}, lambda m: True),
        ({"start_date": "2099-01-01"}, lambda m: False),
    ]
    for params, pred in cases:
        total, msgs = listing(admin, **params)
        assert {m["id"] for m in msgs} == corpus.ids(pred), params
        assert newest_first(msgs), params
    # pagination is a window over the same order
    _, everything = listing(admin)
    page3 = admin.ok("GET", "/api/messages", params={"page": 3, "limit": 50})["messages"]
    assert [m["id"] for m in page3] == [m["id"] for m in everything[100:150]]
    beyond = admin.ok("GET", "/api/messages", params={"page": 1000, "limit": 200})
    assert beyond["messages"] == [] and beyond["pagination"]["total"] == len(corpus.messages)


def test_documented_content_types_are_the_wire_ones() -> None:
    assert set(get_args(ContentTypeName)) == {c.value for c in ContentType}


@pytest.mark.parametrize("params", [{"limit": "201"}, {"limit": "0"}, {"page": "0"},
                                    {"page": "x"}, {"content_type": "Bogus"},
                                    {"start_date": "yesterday"}, {"from_user": "a b"},
                                    {"start_date": "2024-02-01", "end_date": "2024-01-01"}])
def test_list_bad_query_is_400_with_details(admin: Api, corpus: Corpus,
                                            params: dict[str, str]) -> None:
    r = admin.call("GET", "/api/messages", params=params)
    body = r.json()
    assert r.status_code == 400 and body["error_code"] == 400 and body["details"]


def test_search_substring_filters_and_exact_totals(admin: Api, corpus: Corpus) -> None:
    kehu1, kefu2, sid0 = corpus.kehu[1][0], corpus.kefu[2][0], corpus.sids[0]
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"keyword": "refund"}, lambda m: "refund" in m["content"].lower()),
        ({"keyword": "REFUND请求"}, lambda m: "REFUND请求" in m["content"]),
        ({"keyword": "订单", "from_user": kehu1},
         lambda m: "订单" in m["content"] and m["from"] == kehu1),
        ({"keyword": "Refund", "to_user": kefu2, "content_type": "Image"},
         lambda m: "refund" in m["content"].lower() and m["to"] == kefu2
         and m["content_type"] == "Image"),
        ({"keyword": "refund", "session_id": sid0},
         lambda m: "refund" in m["content"].lower() and m["session_id"] == sid0),
        ({"session_id": sid0, "content_type": "File"},
         lambda m: m["session_id"] == sid0 and m["content_type"] == "File"),
        ({"keyword": "no such words"}, lambda m: False),
        ({}, lambda m: True),
    ]
    for body, pred in cases:
        total, msgs = search_all(admin, **body)
        assert {m["id"] for m in msgs} == corpus.ids(pred), body
        assert newest_first(msgs), body
    first = admin.ok("POST", "/api/messages/search", {"keyword": "refund", "limit": 50, "page": 2})
    _, everything = search_all(admin, keyword="refund")
    assert [m["id"] for m in first["messages"]] == [m["id"] for m in everything[50:100]]
    assert first["keyword"] == "refund" and first["took_ms"] >= 0
    started = time.perf_counter()
    admin.ok("POST", "/api/messages/search", {"keyword": "refund"})
    print(f"\nsearch over {len(corpus.messages)} messages: "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")


@pytest.mark.parametrize("body", [{"keyword": 5}, {"page": 0}, {"limit": 500},
                                  {"content_type": "Bogus"}, {"unknown": 1},
                                  {"start_date": "not a date"}, [1, 2]])
def test_search_bad_body_is_400(admin: Api, corpus: Corpus, body: Any) -> None:
    r = admin.call("POST", "/api/messages/search", body)
    assert r.status_code == 400 and r.json()["error_code"] == 400


def export(admin: Api, body: dict[str, Any]) -> tuple[Any, str]:
    r = admin.call("POST", "/api/messages/export", body)
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.endswith(f'.{body.get("format", "json")}"')
    assert r.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered whole
    return r, r.headers["content-type"]


def parse_export(fmt: str, text: str) -> list[dict[str, Any]]:
    if fmt == "json":
        return json.loads(text)
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line]
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    return [{**row, "seq": int(row["seq"]), "url": row["url"] or None} for row in rows]


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_export_matches_search(admin: Api, corpus: Corpus, fmt: str) -> None:
    filters = {"keyword": "订单", "from_user": corpus.kefu[0][0]}
    _, expected = search_all(admin, **filters)
    r, media = export(admin, {**filters, "format": fmt})
    rows = parse_export(fmt, r.text)
    assert [row["id"] for row in rows] == [m["id"] for m in expected]
    cols = ["id", "session_id", "seq", "from", "to", "content_type", "content", "timestamp",
            "url"]
    for row, m in zip(rows, expected, strict=True):
        assert {c: row[c] for c in cols} == {c: m[c] for c in cols}
    if fmt == "csv":
        assert r.text.startswith("\ufeff" + ",".join(cols) + "\r\n")
        assert media.startswith("text/csv")
    started = time.perf_counter()
    r, _ = export(admin, {"format": fmt})
    took = time.perf_counter() - started
    everything = parse_export(fmt, r.text)
    assert len(everything) == len(corpus.messages)
    assert {m["id"] for m in everything} == set(corpus.by_id)
    print(f"\nexport {fmt} of {len(everything)} messages ({len(r.content)} bytes): "
          f"{took * 1000:.1f} ms")


def test_export_bad_format_is_400(admin: Api, corpus: Corpus) -> None:
    r = admin.call("POST", "/api/messages/export", {"format": "xml"})
    assert r.status_code == 400 and "format" in r.json()["details"]


def test_roles(server: ServerProcess, admin: Api, corpus: Corpus) -> None:
    kehu_api, other_kehu = corpus.kehu[0][1], corpus.kehu[1][1]
    kefu_api, other_kefu = corpus.kefu[0][1], corpus.kefu[1][1]
    msg = next(m for m in corpus.messages if m["session_id"] == corpus.sids[0])
    path = f"/api/messages/{msg['id']}"
    for who in (admin, kehu_api, kefu_api):
        assert who.ok("GET", path)["message"] == msg
    for who in (other_kehu, other_kefu):
        r = who.call("GET", path)
        assert r.status_code == 404 and r.json()["error_code"] == 404
    assert Api(server.base).call("GET", path).status_code == 401
    assert admin.call("GET", "/api/messages/msg_nope").status_code == 404
    for who in (kehu_api, kefu_api):
        assert who.call("GET", "/api/messages").status_code == 403
        assert who.call("POST", "/api/messages/search", {"keyword": "x"}).status_code == 403
        assert who.call("POST", "/api/messages/export", {}).status_code == 403
        assert who.call("DELETE", path).status_code == 403
    anonymous = Api(server.base)
    assert anonymous.call("GET", "/api/messages").status_code == 401
    assert anonymous.call("POST", "/api/messages/search", {}).status_code == 401
    assert anonymous.call("POST", "/api/messages/export", {}).status_code == 401
    assert anonymous.call("DELETE", path).status_code == 401
    en = admin.call("GET", "/api/messages", headers={"Accept-Language": "en"}).json()
    assert en["message"] == "Messages"
    assert admin.call("GET", "/api/messages").json()["message"] == "获取消息列表成功"


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
