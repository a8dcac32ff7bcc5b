"""The history scenario's data set: what to store (pure, deterministic, unit-tested) and a
loader that stores it with the server's own persistence code.

Building a million messages through WebSockets would take far too long on this machine,
so the loader runs in the bench process, against the server's Redis, the way the server
itself writes: each session is opened with the dispatcher's assign script
(``Store.assign``), each message appended by the writer's own command builder
(``AppendLog.command``: the same Lua append script, the same indexes and counters),
then the session is closed with the close script (``Store.close_session``). Only the
``client_msg_id`` dedup keys are left out (they expire after a week and no read uses them).
Commands go in pipelines of a few thousand.

Shape: sessions of 100 messages between a kehu (one per session) and one of 200 kefu,
messages 20 s apart, sessions spread over the 90 days before ``end``. Content is a few
words from a fixed vocabulary; :data:`RARE` appears in one message of 10,000 and
:data:`COMMON` in about one of 100; one message of 100 is an ``Image``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from kefu.domain import iso
from kefu.persistence import dispatch
from kefu.persistence.appends import Append, AppendLog
from kefu.persistence.fencing import UNFENCED
from kefu.persistence.redis import Store

RARE = "退款单号"
COMMON = "发票"
WORDS = ("你好", "请问", "订单", "发货", "什么时候", "谢谢", "好的", "稍等", "查询", "物流",
         "地址", "修改", "退货", "价格", "优惠", "会员", "积分", "客服", "帮忙", "处理",
         "hello", "order", "shipping", "refund", "thanks", "please", "status", "account")
DAYS = 90
PER_SESSION = 100
AGENTS = 200
GAP_S = 20.0


@dataclass(frozen=True)
class SessionSpec:
    sid: str
    kehu: str
    kefu: str
    start: float
    messages: int
    first_index: int  # global index of its first message (content is a function of it)


def content_of(index: int) -> tuple[str, str]:
    """The content and content type of the message with global ``index``."""
    rng = random.Random(index)
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
    if (index * 7919) % 10_000 == 1234:  # one in 10,000
        words.insert(rng.randrange(len(words) + 1), RARE)
    if rng.random() < 0.01:
        words.insert(rng.randrange(len(words) + 1), COMMON)
    kind = "Image" if index % 100 == 37 else "Text"
    return " ".join(words), kind


def plan(total: int, end: float, skip: int = 0) -> list[SessionSpec]:
    """Sessions holding ``total`` messages, ending before ``end``; the first ``skip``
    global indexes are left to the long session (its content uses them)."""
    out = []
    rng = random.Random(42)
    index, i = skip, 0
    while index < total:
        n = min(PER_SESSION, total - index)
        kefu = f"hf_{i % AGENTS}"
        kehu = f"hk_{i}"
        start = end - DAYS * 86400 + rng.random() * (DAYS * 86400 - n * GAP_S)
        out.append(SessionSpec(f"{kehu}:{kefu}", kehu, kefu, start, n, index))
        index += n
        i += 1
    return out


def messages_of(s: SessionSpec) -> Iterator[dict[str, Any]]:
    """The stored messages of one planned session (the kehu speaks first, then turns)."""
    for k in range(s.messages):
        content, kind = content_of(s.first_index + k)
        sender, to = (s.kehu, s.kefu) if k % 2 == 0 else (s.kefu, s.kehu)
        ts = s.start + k * GAP_S
        yield {"id": f"msg_{uuid.uuid4().hex}", "from": sender, "to": to, "content": content,
               "content_type": kind, "timestamp": iso(ts),
               "url": "https://example.com/a.png" if kind == "Image" else None,
               "session_id": s.sid, "seq": k + 1, "client_msg_id": None, "_ts": ts}


def load(url: str, specs: list[SessionSpec], prefix: str = "kefu:",
         dedup_ttl: int = 7 * 86400, batch: int = 2000,
         progress: Any = None) -> int:
    """Store the planned sessions through the server's scripts → messages stored."""
    store = Store(url, prefix)
    log = AppendLog(store, dedup_ttl)  # only its command builder: the server's append
    store.client.script_load(store.append.script)
    pipe = store.client.pipeline(transaction=False)
    kinds: list[str] = []  # what each queued command is
    stored = 0

    def flush() -> None:
        nonlocal stored
        for kind, result in zip(kinds, pipe.execute(), strict=True):
            if kind == "append":
                if result[0] != "ok":
                    raise RuntimeError(f"append refused: {result}")
                stored += 1
        kinds.clear()
        if progress is not None:
            progress(stored)

    try:
        for s in specs:
            opening = dispatch.open_session_command(store, s.sid, s.kehu, s.kefu, s.start, "",
                                                    s.kehu, s.kefu, dedup_ttl, force=True)
            keys, args = dispatch.fenced(opening, UNFENCED)
            store.assign(keys=keys, args=args, client=pipe)
            kinds.append("assign")
            awaiting: float | None = None
            for m in messages_of(s):
                ts = m.pop("_ts")
                side = "kehu" if m["from"] == s.kehu else "kefu"
                meta: list[Any] = []
                answered = None
                if side == "kehu" and awaiting is None:
                    awaiting = ts
                    meta = ["awaiting_since", ts]
                elif side == "kefu":
                    meta = ["read_kefu", m["seq"]]
                    if awaiting is not None:
                        answered, awaiting = ts - awaiting, None
                        meta += ["awaiting_since", ""]
                pipe.execute_command(*log.command(Append(
                    sid=s.sid, seq=m["seq"], msg_id=m["id"], msg_json=orjson.dumps(m),
                    side=side, sender=m["from"], cmid=None, ts=ts,
                    preview=m["content"][:200], response_seconds=answered, meta=tuple(meta))))
                kinds.append("append")
                if len(kinds) >= batch:
                    flush()
            end = s.start + s.messages * GAP_S
            closing = dispatch.close_session_command(store, s.sid, "completed", end, "bench")
            keys, args = dispatch.fenced(closing, UNFENCED)
            store.close_session(keys=keys, args=args, client=pipe)
            kinds.append("close")
        flush()
    finally:
        store.close()
    return stored
