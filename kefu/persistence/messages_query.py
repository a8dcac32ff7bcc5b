"""Message reads for the REST API (seed 4.1–4.4), and the tombstone of a deleted one (4.5).

Blocking Redis calls: run them off the IOLoop (``bridge.run_io``). Every read answers
from the indexes the append scripts keep with each message (``INDEX_LUA`` in
``persistence/scripts.py``), never by walking every session:

* a filter that one index answers alone (sender, recipient, content type, or just a
  date range on the time index) is counted with ``ZCOUNT`` and paged with
  ``ZREVRANGEBYSCORE … LIMIT``;
* otherwise the smallest applicable index (``ZCOUNT`` over the date range) yields the
  candidates, newest first, in batches; the other index filters are checked with
  ``ZSCORE``s, a keyword against the stored message (``XRANGE 0-seq 0-seq``), both a
  batch at a time in one server-side script, and the total is counted exactly over
  every candidate;
* with a ``session_id`` the session's own stream is scanned (``XREVRANGE``) instead
  (dates then compare the message's own ``timestamp``).

Dates: second precision, both ends inclusive, a date alone meaning the whole UTC day;
they apply to the time the message was stored in its session (the index score). A
message a kehu sent while waiting joins the indexes when it moves into the session (at
the assignment time); until then only :meth:`MessageQuery.get` finds it.

A deleted message keeps its place (``seq`` stays gap-free) and reads as a tombstone:
``content`` "", ``url`` null, ``deleted`` true, ``deleted_at`` (:func:`apply_tombstones`,
used by every read path: these queries, the session history and the WebSocket resume).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import redis

from kefu.domain import iso, now
from kefu.persistence.keys import Keys
from kefu.persistence.message_filter import MessageFilter
from kefu.persistence.redis import Store

BATCH = 500
AUDIT_MAXLEN = 100_000
Hit = tuple[str, dict[str, Any] | None]  # ("sid|seq", the message if already fetched)

# The stored JSON of a batch of ``sid|seq`` members: one XRANGE 0-seq 0-seq per member,
# run server-side (one command instead of one pipelined command per member, ~5x faster).
# KEYS: the members' streams.  ARGV: their seqs.  → the JSON of each (nil where gone).
FETCH_LUA = """
local out = {}
for i = 1, #KEYS do
  local e = redis.call('XRANGE', KEYS[i], '0-' .. ARGV[i], '0-' .. ARGV[i], 'COUNT', 1)
  out[i] = e[1] and e[1][2][2] or false
end
return out
"""

# Which members belong to every one of KEYS (ZSETs).  ARGV: members.  → 1/0 for each.
MEMBER_OF_ALL_LUA = """
local out = {}
for i = 1, #ARGV do
  local ok = 1
  for _, key in ipairs(KEYS) do
    if not redis.call('ZSCORE', key, ARGV[i]) then ok = 0; break end
  end
  out[i] = ok
end
return out
"""

# Tombstone + audit entry, atomically; a second delete changes nothing.
# KEYS: deleted, audit.  ARGV: msg_id, tombstone_json, audit maxlen, audit field pairs…
DELETE_LUA = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return {0, redis.call('HGET', KEYS[1], ARGV[1])}
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
return {1, ARGV[2]}
"""


def tombstone(m: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    return {**m, "content": "", "url": None, "deleted": True, "deleted_at": info.get("at")}


def apply_tombstones(r: redis.Redis, k: Keys, msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``msgs`` with every deleted one replaced by its tombstone (one HMGET)."""
    if not msgs:
        return msgs
    marks = r.hmget(k.deleted_messages, [m["id"] for m in msgs])
    if not any(marks):
        return msgs
    return [tombstone(m, orjson.loads(raw)) if raw else m
            for m, raw in zip(msgs, marks, strict=True)]


class MessageQuery:
    """Filtered, paginated reads with exact totals; the delete tombstone."""

    def __init__(self, store: Store) -> None:
        self.r = store.client
        self.k = store.keys
        self._delete = store.client.register_script(DELETE_LUA)
        self._fetch = store.client.register_script(FETCH_LUA)
        self.member_of_all = store.client.register_script(MEMBER_OF_ALL_LUA)

    def fetch(self, members: list[str]) -> list[dict[str, Any] | None]:
        """``sid|seq`` members → their stored messages (None where gone), tombstones applied."""
        if not members:
            return []
        parts = [member.rpartition("|") for member in members]
        raws = self._fetch(keys=[self.k.stream(sid) for sid, _, _ in parts],
                           args=[seq for _, _, seq in parts])
        found = [orjson.loads(raw) if raw else None for raw in raws]
        marked = iter(apply_tombstones(self.r, self.k, [m for m in found if m is not None]))
        return [next(marked) if m is not None else None for m in found]

    def scan(self, f: MessageFilter) -> Scan:
        """Plan a query (one ZCOUNT round trip); its matches then come by :meth:`Scan.chunk`."""
        return Scan(self, f)

    def page(self, f: MessageFilter, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page, newest first → (messages, exact total)."""
        scan = self.scan(f)
        off = (page - 1) * limit
        if scan.exact:
            total = scan.primary_count
            if off >= total:
                return [], total
            members = self.r.zrevrangebyscore(scan.primary, f.hi, f.lo, start=off, num=limit)
            return [m for m in self.fetch(members) if m is not None], total
        total, window = 0, []
        while (hits := scan.chunk()) is not None:
            for hit in hits:
                if off <= total < off + limit:
                    window.append(hit)
                total += 1
        return self.complete(window), total

    def complete(self, hits: Iterable[Hit]) -> list[dict[str, Any]]:
        """Hits → messages, fetching (in one pipeline) those not fetched yet."""
        hits = list(hits)
        missing = [member for member, m in hits if m is None]
        fetched = dict(zip(missing, self.fetch(missing), strict=True)) if missing else {}
        out = [m if m is not None else fetched.get(member) for member, m in hits]
        return [m for m in out if m is not None]

    def get(self, msg_id: str) -> dict[str, Any] | None:
        """One message by id (a waiting kehu's message too: ``session_id`` null)."""
        if not msg_id or len(msg_id) > 200:
            return None
        for _attempt in range(2):  # a waiting message may move into its session meanwhile
            loc = self.r.hget(self.k.message_index, msg_id)
            if not loc:
                return None
            head, _, tail = loc.rpartition("|")
            if head != "wait":
                return self.fetch([loc])[0]
            for raw in self.r.lrange(self.k.waiting_messages(tail), 0, -1):
                m = orjson.loads(raw)
                if m.get("id") == msg_id:
                    return apply_tombstones(self.r, self.k, [m])[0]
        return None

    def delete(self, msg_id: str, by: str, role: str) -> dict[str, Any] | None:
        """Tombstone a message and append an audit entry (one script); None if unknown."""
        m = self.get(msg_id)
        if m is None:
            return None
        info = {"by": by, "at": iso(now())}
        detail = {"session_id": m.get("session_id"), "seq": m.get("seq"), "from": m.get("from")}
        fields = ["ts", f"{now():.3f}", "by", by, "role", role, "action", "message.delete",
                  "target", msg_id, "detail", orjson.dumps(detail).decode()]
        created, raw = self._delete(keys=[self.k.deleted_messages, self.k.audit_log],
                                    args=[msg_id, orjson.dumps(info), AUDIT_MAXLEN, *fields])
        info = orjson.loads(raw)
        return {"message_id": msg_id, "session_id": m.get("session_id"), "seq": m.get("seq"),
                "deleted": True, "deleted_by": info["by"], "deleted_at": info["at"],
                "already_deleted": not int(created)}


class Scan:
    """One query's matches, newest first, a chunk at a time. Blocking; not thread-safe
    (one caller at a time, e.g. successive ``run_io`` calls of one request)."""

    def __init__(self, q: MessageQuery, f: MessageFilter) -> None:
        self.q, self.f = q, f
        r, k = q.r, q.k
        self.stream_hi: str | None = "+" if f.session_id else None
        self.exact, self.done, self.skip, self.cursor_hi = False, False, 0, f.hi
        self.primary, self.primary_count, self.others = "", 0, []
        if f.session_id:
            return
        keys = [key for key, on in ((k.user_sent(f.from_user or ""), f.from_user),
                                    (k.user_received(f.to_user or ""), f.to_user),
                                    (k.msgs_by_type(f.content_type or ""), f.content_type))
                if on] or [k.msgs_by_time]
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.zcount(key, f.lo, f.hi)
        counts = pipe.execute()
        ranked = sorted(zip(counts, keys, strict=True))
        self.primary_count, self.primary = ranked[0]
        self.others = [key for _, key in ranked[1:]]
        self.exact = not self.others and not f.needle
        self.done = self.primary_count == 0

    def chunk(self) -> list[Hit] | None:
        """The next matches (possibly none); None once everything was scanned."""
        if self.f.session_id:
            return self._stream_chunk()
        if self.done:
            return None
        rows = self.q.r.zrevrangebyscore(self.primary, self.cursor_hi, self.f.lo,
                                         start=self.skip, num=BATCH, withscores=True)
        self._advance(rows)
        members = [member for member, _ in rows]
        if self.others and members:
            inside = self.q.member_of_all(keys=self.others, args=members)
            members = [m for m, ok in zip(members, inside, strict=True) if ok]
        needle = self.f.needle
        if needle is None:
            return [(member, None) for member in members]
        msgs = self.q.fetch(members)
        return [(member, m) for member, m in zip(members, msgs, strict=True)
                if m is not None and needle in (m.get("content") or "").casefold()]

    def _advance(self, rows: list[tuple[str, float]]) -> None:
        """Move the score cursor past ``rows`` (members appended meanwhile are newer than
        the cursor, so nothing repeats and nothing shifts)."""
        if len(rows) < BATCH:
            self.done = True
        if not rows:
            return
        last = rows[-1][1]
        same = sum(1 for _, score in rows if score == last)
        if self.cursor_hi != "+inf" and float(self.cursor_hi) == last:
            self.skip += len(rows)
        else:
            self.skip = same
        self.cursor_hi = str(int(last))

    def _stream_chunk(self) -> list[Hit] | None:
        if self.stream_hi is None:
            return None
        sid = self.f.session_id or ""
        entries = self.q.r.xrevrange(self.q.k.stream(sid), self.stream_hi, "-", count=BATCH)
        last_seq = int(entries[-1][0].split("-")[1]) if entries else 0
        self.stream_hi = f"0-{last_seq - 1}" if len(entries) == BATCH and last_seq > 1 else None
        msgs = apply_tombstones(self.q.r, self.q.k, [orjson.loads(e["m"]) for _, e in entries])
        return [(f"{sid}|{m.get('seq')}", m) for m in msgs if self.f.matches(m)]

    def messages(self) -> list[dict[str, Any]] | None:
        """At least one batch worth of matching messages (fewer at the end); None when done."""
        hits: list[Hit] = []
        while len(hits) < BATCH:
            chunk = self.chunk()
            if chunk is None:
                if not hits:
                    return None
                break
            hits.extend(chunk)
        return self.q.complete(hits)
