"""Retention (issue 16, item 4): ``KEFU_RETENTION_DAYS`` purges what is older than that.

A session goes when it *ended* before the cut-off (``now - days``): never an active one.
With it go its messages and every index entry that names them (by time, sender,
recipient, content type, the message-id index, tombstones, the ``client_msg_id``
dedup copies), its events, notes and tags
(with the tag indexes and usage counts), its place in the session listings and in both
users' session sets, and its uploads (records and bytes). Messages left older than the
cut-off go too, with their replies, and so do uploads older than the cut-off whose
session no longer exists (made but never sent). The hour/day counters of
``persistence/analytics.py`` stay: they are totals, not contents (analytics built from
sessions — sessions created, satisfaction, tags — then count the sessions kept).

Safe with several nodes and against a session reopening: each session is *claimed* by
one script (``CLAIM_LUA``) that checks it is not active and ended before the cut-off,
removes the session's own keys and listings and renames its stream to
``Keys.purging(sid)`` (listed in ``Keys.purge_pending``); a pair that meets again then
opens a new session. The index entries of a claimed stream are removed a batch at a
time, each batch then deleted from the stream, so a purge that stops half-way is
finished by the next one (pending streams first). ``Keys.purge_lock`` lets one purge run
at a time across nodes. Bounded work per step: :data:`BATCH` sessions, entries or keys
per round trip (SCAN with COUNT for uploads). Blocking: executor threads or the CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from kefu.domain import iso, now, parse_iso
from kefu.persistence import messages_left
from kefu.persistence.erasure import delete_upload, scan_batches
from kefu.persistence.redis import Store
from kefu.persistence.upload_records import UPLOAD_URL, Blobs

BATCH = 200
DAY = 86_400.0
LOCK_MS = 10 * 60 * 1000

# KEYS: session, stream, purging copy, tag set, tags used, sessions, kehu sessions, kefu
#       sessions, events, notes, pending
# ARGV: sid, cut-off (epoch), tag index prefix → 1 claimed, 0 gone already, -1 kept
CLAIM_LUA = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then
  redis.call('ZREM', KEYS[6], ARGV[1]); return 0
end
if st == 'active' then return -1 end
local ended = tonumber(redis.call('HGET', KEYS[1], 'ended_at')
                       or redis.call('HGET', KEYS[1], 'updated_at') or '0') or 0
if ended > tonumber(ARGV[2]) then return -1 end
for _, tag in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('ZREM', ARGV[3] .. tag, ARGV[1])
  if tonumber(redis.call('ZINCRBY', KEYS[5], -1, tag)) <= 0 then
    redis.call('ZREM', KEYS[5], tag)
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('SADD', KEYS[11], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[4], KEYS[9], KEYS[10])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
return 1
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class Purged:
    """What a purge removed (or, in a dry run, would remove)."""

    cutoff: float = 0.0
    sessions: int = 0
    messages: int = 0
    uploads: int = 0
    messages_left: int = 0
    kept_active: int = 0  # candidates kept: active, or ended after the cut-off
    dry_run: bool = False
    skipped: bool = False  # another node holds the purge lock

    def view(self) -> dict[str, Any]:
        return {**asdict(self), "cutoff": iso(self.cutoff)}


Progress = Callable[[int], None]


def candidates(store: Store, cutoff: float) -> int:
    """How many sessions were created before the cut-off (a purge looks at those)."""
    return int(store.client.zcount(store.keys.sessions, "-inf", cutoff))


def purge(store: Store, blobs: Blobs | None, days: float, *, dry_run: bool = False,
          at: float | None = None, progress: Progress | None = None) -> Purged:
    """Remove what ended ``days`` before ``at`` (default now) → what went. ``progress``
    is called with the number of sessions looked at since its last call."""
    cutoff = (now() if at is None else at) - days * DAY
    out = Purged(cutoff=cutoff, dry_run=dry_run)
    r, k = store.client, store.keys
    token = uuid.uuid4().hex
    if not dry_run and not r.set(k.purge_lock, token, nx=True, px=LOCK_MS):
        out.skipped = True
        return out
    try:
        if not dry_run:
            for sid in r.smembers(k.purge_pending):  # a purge that stopped half-way
                out.messages += _drain(store, blobs, sid)
        _sessions(store, blobs, out, progress)
        _left(store, out)
        if blobs is not None:
            _orphan_uploads(store, blobs, out)
    finally:
        if not dry_run:
            r.eval(RELEASE_LUA, 1, k.purge_lock, token)
    return out


def _sessions(store: Store, blobs: Blobs | None, out: Purged,
              progress: Progress | None) -> None:
    r, k = store.client, store.keys
    claim = r.register_script(CLAIM_LUA)
    skip = 0
    while True:
        sids = r.zrangebyscore(k.sessions, "-inf", out.cutoff, start=skip, num=BATCH)
        if not sids:
            return
        pipe = r.pipeline(transaction=False)
        for sid in sids:
            pipe.hmget(k.session(sid), "status", "ended_at", "updated_at", "kehu_id",
                       "kefu_id", "message_count")
        for sid, (status, ended, updated, kehu, kefu, count) in zip(
                sids, pipe.execute(), strict=True):
            done = float(ended or updated or 0)
            if status is not None and (status == "active" or done > out.cutoff):
                out.kept_active += 1
                skip += 1
                continue
            if out.dry_run:
                skip += 1
                if status is not None:
                    out.sessions += 1
                    out.messages += int(count or 0)
                continue
            got = int(claim(keys=[k.session(sid), k.stream(sid), k.purging(sid),
                                  k.session_tags(sid), k.tags_used, k.sessions,
                                  k.user_sessions(kehu or ""), k.user_sessions(kefu or ""),
                                  k.events(sid), k.notes(sid), k.purge_pending],
                            args=[sid, out.cutoff, k.tag_prefix]))
            if got == -1:  # reopened meanwhile
                out.kept_active += 1
                skip += 1
                continue
            if got == 1:
                out.sessions += 1
                out.messages += _drain(store, blobs, sid, out)
        if progress is not None:
            progress(len(sids))
        if len(sids) < BATCH:
            return


def _drain(store: Store, blobs: Blobs | None, sid: str, out: Purged | None = None) -> int:
    """Remove the index entries of a claimed stream's messages, a batch at a time, then
    the stream → how many messages."""
    r, k = store.client, store.keys
    copy = k.purging(sid)
    count = 0
    while True:
        entries = r.xrange(copy, "-", "+", count=BATCH)
        if not entries:
            break
        pipe = r.pipeline(transaction=False)
        ups: set[str] = set()
        for _entry_id, fields in entries:
            m = orjson.loads(fields["m"])
            member = f"{sid}|{m.get('seq')}"
            pipe.zrem(k.msgs_by_time, member)
            pipe.zrem(k.user_sent(str(m.get("from"))), member)
            if isinstance(m.get("to"), str):
                pipe.zrem(k.user_received(m["to"]), member)
            pipe.zrem(k.msgs_by_type(str(m.get("content_type"))), member)
            if m.get("id"):
                pipe.hdel(k.message_index, m["id"])
                pipe.hdel(k.deleted_messages, m["id"])
            if m.get("client_msg_id") and m.get("from"):
                pipe.delete(k.dedup(m["from"], m["client_msg_id"]))  # a copy of it
            ups.update(UPLOAD_URL.findall(str(m.get("url") or "")))
        pipe.xdel(copy, *[entry_id for entry_id, _ in entries])
        pipe.execute()
        if blobs is not None:
            for upload_id in ups:
                if r.exists(k.upload(upload_id)):
                    delete_upload(store, blobs, upload_id)
                    if out is not None:
                        out.uploads += 1
        count += len(entries)
    r.delete(copy)
    r.srem(k.purge_pending, sid)
    return count


def _left(store: Store, out: Purged) -> None:
    r, k = store.client, store.keys
    skip = 0
    while True:
        ids = r.zrangebyscore(k.left_all, "-inf", out.cutoff, start=skip, num=BATCH)
        if not ids:
            return
        if out.dry_run:
            out.messages_left += len(ids)
            skip += len(ids)
        else:
            pipe = r.pipeline(transaction=False)
            for left_id in ids:
                pipe.hget(k.left(left_id), "kehu_id")
            owners = pipe.execute()
            pipe = r.pipeline(transaction=True)
            for left_id, kehu in zip(ids, owners, strict=True):
                messages_left.forget(pipe, k, left_id, kehu)
            pipe.execute()
            out.messages_left += len(ids)
        if len(ids) < BATCH:
            return


def _orphan_uploads(store: Store, blobs: Blobs, out: Purged) -> None:
    """Uploads older than the cut-off whose session is gone (made, never sent)."""
    r, k = store.client, store.keys
    for keys in scan_batches(store, k.upload("*")):
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "id", "session_id", "created_at")
        rows = pipe.execute()
        pipe = r.pipeline(transaction=False)
        for _id, sid, _created in rows:
            pipe.exists(k.session(sid or ""))
        alive = pipe.execute()
        for key, (upload_id, _sid, created), exists in zip(keys, rows, alive, strict=True):
            made = parse_iso(created) if created else 0.0
            if exists or made > out.cutoff:
                continue
            out.uploads += 1
            if not out.dry_run:
                delete_upload(store, blobs, upload_id or key.rpartition(":")[2])
