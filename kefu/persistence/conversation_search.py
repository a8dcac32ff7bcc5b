"""The agent's own search (issue 15, item 6): find conversations by a keyword (in their
messages or the customer's name) and/or a tag, inside the sessions the caller may read.

Scope: a kefu's own sessions (its per-user index, the most recently opened first) and the
sessions its customers were transferred or requeued from (``transferred_from`` links, as
``can_read`` allows); an admin's: every session. Bounded: at most :data:`MAX_SESSIONS`
sessions of the scope are looked at (the most recent), and in each the newest
:data:`MAX_MESSAGES` messages; older conversations are the admin's ``POST
/api/messages/search``. Deleted messages never match (their content is gone); private
notes are not messages and are never searched.

Blocking; called from the executor (``bridge.run_io``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from kefu.persistence.messages_query import apply_tombstones
from kefu.persistence.redis import Store

MAX_SESSIONS = 500
MAX_MESSAGES = 1000
MAX_SHOWN = 3  # matching messages shown per conversation
CHUNK = 50
LINKS = 20  # transferred_from links followed per session (as can_read)


@dataclass(frozen=True)
class Search:
    user_id: str
    admin: bool
    keyword: str | None  # case-folded
    tag: str | None  # normalised
    page: int = 1
    limit: int = 20


@dataclass
class Hit:
    meta: dict[str, str]
    matches: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    by_name: bool = False


def scope(store: Store, q: Search) -> list[str]:
    """The session ids the caller may read, most recent first (at most MAX_SESSIONS)."""
    r, k = store.client, store.keys
    if q.tag is not None:
        tagged: list[str] = list(r.zrevrange(k.tag_sessions(q.tag), 0, -1))
        if q.admin:
            return tagged[:MAX_SESSIONS]
        mine = set(readable(store, q.user_id, list(r.zrevrange(k.user_sessions(q.user_id),
                                                               0, -1))))
        return [sid for sid in tagged if sid in mine][:MAX_SESSIONS]
    if q.admin:
        return list(r.zrevrange(k.sessions, 0, MAX_SESSIONS - 1))
    own = list(r.zrevrange(k.user_sessions(q.user_id), 0, MAX_SESSIONS - 1))
    return readable(store, q.user_id, own)[:MAX_SESSIONS]


def readable(store: Store, kefu_id: str, own: list[str]) -> list[str]:
    """A kefu's own sessions (those it served) and, after each, the sessions it came from
    by a transfer or requeue, link by link."""
    r, k = store.client, store.keys
    out: list[str] = []
    seen: set[str] = set()
    frontier = own
    for _ in range(LINKS + 1):
        if not frontier:
            break
        pipe = r.pipeline(transaction=False)
        for sid in frontier:
            pipe.hmget(k.session(sid), ["kefu_id", "transferred_from"])
        nxt: list[str] = []
        for sid, (kefu, link) in zip(frontier, pipe.execute(), strict=True):
            if sid in seen or kefu is None:
                continue
            if frontier is own and kefu != kefu_id:
                continue  # (a kehu index is never passed here; a safety net)
            seen.add(sid)
            out.append(sid)
            if link and link not in seen:
                nxt.append(link)
        frontier = nxt
    return out


def run(store: Store, q: Search) -> tuple[list[Hit], int]:
    """One page of matching conversations, most recently updated first → (hits, total)."""
    r, k = store.client, store.keys
    sids = scope(store, q)
    hits: list[Hit] = []
    for i in range(0, len(sids), CHUNK):
        part = sids[i : i + CHUNK]
        pipe = r.pipeline(transaction=False)
        for sid in part:
            pipe.hgetall(k.session(sid))
        metas = pipe.execute()
        streams: list[Any] = [None] * len(part)
        if q.keyword is not None:
            pipe = r.pipeline(transaction=False)
            for sid in part:
                pipe.xrevrange(k.stream(sid), "+", "-", count=MAX_MESSAGES)
            streams = pipe.execute()
        for meta, entries in zip(metas, streams, strict=True):
            if not meta:
                continue
            hit = match(r, k, meta, entries, q.keyword)
            if hit is not None:
                hits.append(hit)
    hits.sort(key=lambda h: float(h.meta.get("updated_at") or h.meta.get("created_at") or 0),
              reverse=True)
    off = (q.page - 1) * q.limit
    return hits[off : off + q.limit], len(hits)


def match(r: Any, k: Any, meta: dict[str, str], entries: list[Any] | None,
          keyword: str | None) -> Hit | None:
    hit = Hit(meta)
    if keyword is None:
        return hit
    names = f"{meta.get('kehu_name', '')}\n{meta.get('kehu_id', '')}".casefold()
    hit.by_name = keyword in names
    found = [m for m in (orjson.loads(f["m"]) for _id, f in entries or [])
             if keyword in (m.get("content") or "").casefold()]
    if found:
        found = [m for m in apply_tombstones(r, k, found) if not m.get("deleted")]
    hit.count = len(found)
    hit.matches = found[:MAX_SHOWN]
    return hit if hit.count or hit.by_name else None
