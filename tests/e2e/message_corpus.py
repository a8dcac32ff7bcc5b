"""A few thousand real messages sent through WebSockets, for the messages REST tests
(``test_rest_messages.py``, ``test_rest_messages_delete.py``): their builder and the
paging helpers both modules use."""

from __future__ import annotations

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.helpers import WS, Api, ServerProcess, open_pair

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

    def close(self) -> None:
        for _, _, ws in self.kefu + self.kehu:
            ws.close()


def build_corpus(server: ServerProcess) -> Corpus:
    """PAIRS sessions of PER_SIDE messages from each side, through the real server."""
    admin = Api.login(server.base, "admin", "admin-pass")
    c = Corpus()
    jobs = []
    for p in range(PAIRS):
        pair = open_pair(server, admin)
        assert pair.sid == f"{pair.kehu_id}:{pair.kefu_id}"
        k, w, sid = pair.k, pair.c, pair.sid
        c.kefu.append((pair.kefu_id, pair.kefu, k))
        c.kehu.append((pair.kehu_id, pair.kehu, w))
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
    return c


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
