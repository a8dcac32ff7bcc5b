"""Erasing a customer (issue 16, item 4: "the right to be forgotten").

What goes: the user record, its tokens, its profile, attributes and pre-chat answers, its
identity binding (site user → customer), its waiting messages, its messages left (with
the agents' replies), every upload of its sessions (records and bytes, either side), the
private notes about its sessions, and the *content* of every message of its sessions —
those it sent and those it received. A message becomes a tombstone everywhere it can be
read: its stream entry is rewritten (``content`` "", ``url`` null, ``deleted`` and
``erased`` true), and the tombstone hash (``Keys.deleted_messages``, the mechanism of
``DELETE /api/messages/{id}``) marks it for every read path. The session's
``last_message``, ``kehu_name`` and ``rating_comment`` go too; the dedup records that
kept a copy of a message (``dedup:{sender}:{client_msg_id}``) are deleted.

What stays (no personal content): the sessions as shells (ids, agent, times, status, the
score of a rating, tags), the per-message index entries (they point at tombstones), and
every counter — message counts, hour/day analytics, agent figures. "Consistent" means the
counts stay as they were and the contents go: an erased customer's conversations still
count in an agent's workload and in last month's totals.

Refused while the customer has an active session, is waiting in the queue, has an offer
out or is assigned (``busy``): end the session first. The first step (one script) checks
that, revokes the tokens and deletes the user record, so nobody can log in as it or open
a session with it while the rest runs; it also writes ``Keys.erasure(id)`` (state
``running``). Every later step is idempotent (a tombstone of a tombstone is itself, a
deleted key stays deleted), so an erasure that stops half-way — a crash, Redis away — is
finished by running it again: the marker says the customer was being erased, and the last
step (one script) sets the state ``done`` and writes the one audit entry
(``customer.erase``: who, which customer, how many sessions, messages, uploads and
messages left). A second erase then changes nothing and says ``already_erased``.

Backups made before the erasure still hold the customer (``docs/data-rights.md``).
Blocking: call from the executor (``bridge.run_io``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from kefu.domain import iso, now
from kefu.persistence import messages_left
from kefu.persistence.customers import external_digest
from kefu.persistence.messages_query import AUDIT_MAXLEN, tombstone
from kefu.persistence.redis import Store
from kefu.persistence.upload_records import UPLOAD_URL, Blobs

BATCH = 500
ERASE = "customer.erase"
REDACTED = orjson.dumps({"redacted": "customer erased"}).decode()

# KEYS: user, user_tokens, users, guests_seen, kehu_active, queue, assign, offers,
#       customer, attrs, identity ('' key part when none), marker, waiting messages
# ARGV: kehu id, token key prefix, by, at (iso)
# → 'busy' | 'missing' | 'done' | 'running'
BEGIN_LUA = """
if redis.call('SCARD', KEYS[5]) > 0 or redis.call('HEXISTS', KEYS[6], ARGV[1]) == 1
   or redis.call('HEXISTS', KEYS[7], ARGV[1]) == 1
   or redis.call('HEXISTS', KEYS[8], ARGV[1]) == 1 then
  return 'busy'
end
local state = redis.call('HGET', KEYS[12], 'state')
if state == 'done' then return 'done' end
if not state then
  if redis.call('HGET', KEYS[1], 'user_type') ~= 'kehu' then return 'missing' end
  redis.call('HSET', KEYS[12], 'state', 'running', 'by', ARGV[3], 'at', ARGV[4])
end
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[2] .. digest)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[9], KEYS[10], KEYS[13])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[11]) == ARGV[1] then redis.call('DEL', KEYS[11]) end
return 'running'
"""

# Swap a session's stream for its tombstoned copy, unless the session became active or
# grew meanwhile (then the copy is dropped: the caller tries again).
# KEYS: session, stream, copy.  → 1 swapped, 0 active, -1 changed meanwhile
SWAP_LUA = """
if redis.call('HGET', KEYS[1], 'status') == 'active' then
  redis.call('DEL', KEYS[3]); return 0
end
if redis.call('XLEN', KEYS[2]) ~= redis.call('XLEN', KEYS[3]) then
  redis.call('DEL', KEYS[3]); return -1
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('RENAME', KEYS[3], KEYS[2]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_message', '', 'kehu_name', '')
  redis.call('HDEL', KEYS[1], 'rating_comment')
end
return 1
"""

# KEYS: marker, audit.  ARGV: audit maxlen, done at, sessions, messages, uploads, left,
# then the audit entry's field pairs.  → 1 finished now, 0 finished before
FINISH_LUA = """
if redis.call('HGET', KEYS[1], 'state') == 'done' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'done_at', ARGV[2], 'sessions', ARGV[3],
           'messages', ARGV[4], 'uploads', ARGV[5], 'messages_left', ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 7))
return 1
"""


class CustomerBusy(Exception):
    """The customer is in a session, the queue, or being offered: end that first."""


@dataclass
class Tally:
    sessions: int = 0
    messages: int = 0
    uploads: int = 0
    messages_left: int = 0
    left_ids: list[str] = field(default_factory=list)


def _record(raw: dict[str, str], kehu_id: str, already: bool) -> dict[str, Any]:
    return {"customer_id": kehu_id, "erased": True, "already_erased": already,
            "erased_by": raw.get("by"), "erased_at": raw.get("done_at") or raw.get("at"),
            **{name: int(raw.get(name) or 0)
               for name in ("sessions", "messages", "uploads", "messages_left")}}


def erase(store: Store, blobs: Blobs | None, kehu_id: str, by: str, role: str
          ) -> dict[str, Any] | None:
    """Erase customer ``kehu_id`` (or finish erasing it) → its erasure record; None when
    there is no such customer; :class:`CustomerBusy` while it is in a session or queued."""
    r, k = store.client, store.keys
    site, external = r.hmget(k.customer(kehu_id), "site", "external_id")
    identity = k.identity(site, external_digest(external)) if site and external else k.identity(
        "", "")
    state = r.eval(BEGIN_LUA, 13, k.user(kehu_id), k.user_tokens(kehu_id), k.users,
                   k.guests_seen, k.active_sessions(kehu_id), k.queue, k.assignments, k.offers,
                   k.customer(kehu_id), k.customer_attrs(kehu_id), identity,
                   k.erasure(kehu_id), k.waiting_messages(kehu_id),
                   kehu_id, k.token(""), by, iso(now()))
    if state == "busy":
        raise CustomerBusy(kehu_id)
    if state == "missing":
        return None
    if state == "done":
        return _record(r.hgetall(k.erasure(kehu_id)), kehu_id, True)
    info = {"by": by, "at": r.hget(k.erasure(kehu_id), "at") or iso(now()), "erased": True}
    tally = Tally()
    sids = r.zrange(k.user_sessions(kehu_id), 0, -1)
    referenced: set[str] = set()
    for sid in sids:
        tally.messages += _erase_session(store, sid, info, referenced)
        tally.sessions += 1
    tally.left_ids = r.zrange(k.left_by(kehu_id), 0, -1)
    _redact_audit(store, {kehu_id, *sids, *tally.left_ids, *referenced})  # ids still known
    r.hincrby(k.erasure(kehu_id), "left_found", _erase_left(store, kehu_id))
    if blobs is not None:
        _erase_uploads(store, blobs, kehu_id, set(sids), referenced)
    # what earlier runs deleted counts too (a run that stopped half-way)
    left, ups = r.hmget(k.erasure(kehu_id), "left_found", "uploads_found")
    tally.messages_left, tally.uploads = int(left or 0), int(ups or 0)
    detail = {"sessions": tally.sessions, "messages": tally.messages, "uploads": tally.uploads,
              "messages_left": tally.messages_left}
    fields = ["ts", f"{now():.3f}", "by", by, "role", role, "action", ERASE,
              "target", kehu_id, "path", f"/api/customers/{kehu_id}/erase",
              "detail", orjson.dumps(detail).decode()]
    first = r.eval(FINISH_LUA, 2, k.erasure(kehu_id), k.audit_log, AUDIT_MAXLEN, iso(now()),
                   tally.sessions, tally.messages, tally.uploads, tally.messages_left, *fields)
    return _record(r.hgetall(k.erasure(kehu_id)), kehu_id, not int(first))


def _erase_session(store: Store, sid: str, info: dict[str, Any], referenced: set[str]) -> int:
    """Rewrite session ``sid``'s stream as tombstones, mark each message deleted, drop its
    dedup copies and the session's notes → how many messages."""
    r, k = store.client, store.keys
    stream, copy = k.stream(sid), k.erasure_stream(sid)
    mark = orjson.dumps(info)
    for _attempt in range(5):
        r.delete(copy)  # a copy left by a run that stopped half-way
        count, low = 0, "-"
        while True:
            entries = r.xrange(stream, low, "+", count=BATCH)
            if not entries:
                break
            pipe = r.pipeline(transaction=False)
            for entry_id, fields in entries:
                m = orjson.loads(fields["m"])
                referenced.update(UPLOAD_URL.findall(str(m.get("url") or "")))
                referenced.update(UPLOAD_URL.findall(str(m.get("content") or "")))
                pipe.xadd(copy, {"m": orjson.dumps({**tombstone(m, info), "erased": True})},
                          id=entry_id)
                if m.get("id"):
                    pipe.hsetnx(k.deleted_messages, m["id"], mark)
                if m.get("client_msg_id") and m.get("from"):
                    pipe.delete(k.dedup(m["from"], m["client_msg_id"]))
            pipe.execute()
            count += len(entries)
            if len(entries) < BATCH:
                break
            low = "(" + entries[-1][0]
        swapped = int(r.eval(SWAP_LUA, 3, k.session(sid), stream, copy))
        if swapped == 1:
            r.delete(k.notes(sid))
            return count
        if swapped == 0:
            raise CustomerBusy(sid)  # reopened meanwhile: end it, then erase again
    raise CustomerBusy(sid)


def _redact_audit(store: Store, targets: set[str]) -> int:
    """Audit entries about the customer (its id, sessions, messages left or uploads as
    the target) keep who, what, when and the status; their ``detail`` (the request
    body: attribute values, a note, a reply) is replaced. A stream entry cannot change
    in place: it is deleted and added again (same ``ts``, so the same ``at``; a newer
    stream id). → how many."""
    r, k = store.client, store.keys
    doomed: list[tuple[str, dict[str, str]]] = []
    low = "-"
    while True:
        entries = r.xrange(k.audit_log, low, "+", count=1000)
        for entry_id, fields in entries:
            parts = set((fields.get("target") or "").split("/"))
            if (parts & targets and fields.get("detail") and fields.get("action") != ERASE
                    and not fields.get("redacted")):
                doomed.append((entry_id, fields))
        if len(entries) < 1000:
            break
        low = "(" + entries[-1][0]
    for entry_id, fields in doomed:
        pipe = r.pipeline(transaction=True)
        pipe.xdel(k.audit_log, entry_id)
        pipe.xadd(k.audit_log, {**fields, "detail": REDACTED, "redacted": entry_id},
                  maxlen=AUDIT_MAXLEN, approximate=True)
        pipe.execute()
    return len(doomed)


def _erase_left(store: Store, kehu_id: str) -> int:
    r, k = store.client, store.keys
    ids = r.zrange(k.left_by(kehu_id), 0, -1)
    pipe = r.pipeline(transaction=True)
    for left_id in ids:
        messages_left.forget(pipe, k, left_id, None)
    pipe.delete(k.left_by(kehu_id))
    pipe.execute()
    return len(ids)


def delete_upload(store: Store, blobs: Blobs, upload_id: str) -> None:
    """The bytes first (a record never names a missing blob), then the record."""
    blobs.delete(upload_id)
    blobs.delete(f"{upload_id}.thumb")
    store.client.delete(store.keys.upload(upload_id))


def _erase_uploads(store: Store, blobs: Blobs, kehu_id: str, sids: set[str],
                   referenced: set[str]) -> int:
    """Every upload made by the customer or in one of its sessions (either side), and
    those its messages named: one SCAN over the upload records, COUNT-bounded steps."""
    r, k = store.client, store.keys
    gone = 0
    pattern = k.upload("*")
    for keys in scan_batches(store, pattern):
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "id", "session_id", "uploader")
        for key, (upload_id, sid, uploader) in zip(keys, pipe.execute(), strict=True):
            upload_id = upload_id or key.rpartition(":")[2]
            if uploader == kehu_id or sid in sids or upload_id in referenced:
                delete_upload(store, blobs, upload_id)
                r.hincrby(k.erasure(kehu_id), "uploads_found", 1)
                gone += 1
    return gone


def scan_batches(store: Store, pattern: str) -> Iterator[list[str]]:
    """The keys matching ``pattern``, one SCAN step at a time (bounded work per step)."""
    cursor = 0
    while True:
        cursor, keys = store.client.scan(cursor, match=pattern, count=1000)
        if keys:
            yield list(keys)
        if int(cursor) == 0:
            return
