"""Messages REST (seed 4.1–4.5) over a few thousand real messages sent through WebSockets:
exact totals per filter, search, export in three formats matching the search, roles, and
delete → tombstone everywhere (detail, history, list, search, export, WS resume) plus an
audit entry.

The module has its own server (the ``server`` fixture is per module), so every message it
holds is one this module sent. Deleting changes what every other test here counts, so the
delete test has a module (and a server and corpus) of its own:
``test_rest_messages_delete.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from kefu.http.handlers.messages import ContentTypeName
from kefu.http.wire import ContentType
from tests.e2e.message_corpus import (
    FIELDS,
    PAIRS,
    PER_SIDE,
    Corpus,
    export,
    listing,
    parse_export,
    search_all,
)
from tests.helpers import Api, ServerProcess


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
