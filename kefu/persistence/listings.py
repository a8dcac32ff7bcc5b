"""Paginated listings over the Redis indexes: sessions (seed 1.1), a kefu's current
customers (seed 2.1), users (seed 3.1) and users' last activity.

Blocking reads: call them off the IOLoop (``bridge.run_io``). Nothing here writes, and
nothing sends ``KEYS``: every listing starts from a sorted-set index in
:mod:`kefu.persistence.keys` and reads hashes in pipelined chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

from kefu.persistence.redis import Store

CHUNK = 500


@dataclass(frozen=True)
class TimeRange:
    """``lo <= created_at`` and ``created_at <= hi`` (``< hi`` when ``hi_open``)."""

    lo: float | None = None
    hi: float | None = None
    hi_open: bool = False

    def contains(self, ts: float) -> bool:
        if self.lo is not None and ts < self.lo:
            return False
        if self.hi is None:
            return True
        return ts < self.hi if self.hi_open else ts <= self.hi

    def redis_min(self) -> str:
        return "-inf" if self.lo is None else repr(self.lo)

    def redis_max(self) -> str:
        if self.hi is None:
            return "+inf"
        return f"({self.hi!r}" if self.hi_open else repr(self.hi)


@dataclass(frozen=True)
class SessionQuery:
    """Filters of seed 1.1. ``owner`` limits the listing to one user's sessions (a kefu's
    or a kehu's own index); ``kefu_id`` filters on the serving kefu."""

    page: int = 1
    limit: int = 20
    owner: str | None = None
    kefu_id: str | None = None
    status: str | None = None
    created: TimeRange = TimeRange()
    tag: str | None = None  # only sessions carrying this tag (issue 15)


def _hmget_chunks(store: Store, keys: list[str], fields: list[str]) -> list[list[str | None]]:
    out: list[list[str | None]] = []
    r = store.client
    for i in range(0, len(keys), CHUNK):
        pipe = r.pipeline(transaction=False)
        for key in keys[i : i + CHUNK]:
            pipe.hmget(key, fields)
        out.extend(pipe.execute())
    return out


def _hgetall_many(store: Store, keys: list[str]) -> list[dict[str, str]]:
    pipe = store.client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return list(pipe.execute())


def list_sessions(store: Store, q: SessionQuery) -> tuple[list[dict[str, str]], int]:
    """One page of session hashes, newest ``created_at`` first → (hashes, exact total).

    Without an owner or kefu filter the global ``sessions`` ZSET (scored by creation) is
    read by score range: with no status filter the page is one ZREVRANGEBYSCORE and the
    total one ZCOUNT; a status filter reads the range's statuses pipelined. With an owner
    or a kefu the user's own ZSET (scored by last opening, which is never before creation)
    gives the candidates, whose ``created_at`` and status are checked pipelined.
    """
    r, k = store.client, store.keys
    off = (q.page - 1) * q.limit
    user = q.owner or q.kefu_id
    if q.tag is not None:
        sids, total = _tagged_page(store, q)
    elif user is None:
        lo, hi = q.created.redis_min(), q.created.redis_max()
        if q.status is None:
            total = int(r.zcount(k.sessions, lo, hi))
            sids = r.zrevrangebyscore(k.sessions, hi, lo, start=off, num=q.limit)
        else:
            every = r.zrevrangebyscore(k.sessions, hi, lo)
            statuses = _hmget_chunks(store, [k.session(s) for s in every], ["status"])
            matching = [s for s, (st,) in zip(every, statuses, strict=True) if st == q.status]
            total = len(matching)
            sids = matching[off : off + q.limit]
    else:
        lo = q.created.redis_min()  # opened >= created >= lo
        candidates = r.zrangebyscore(k.user_sessions(user), lo, "+inf")
        rows = _hmget_chunks(store, [k.session(s) for s in candidates],
                             ["created_at", "status", "kefu_id"])
        kept: list[tuple[float, str]] = []
        for sid, (created, status, kefu_id) in zip(candidates, rows, strict=True):
            if created is None or not q.created.contains(float(created)):
                continue
            if q.status is not None and status != q.status:
                continue
            if q.kefu_id is not None and kefu_id != q.kefu_id:
                continue
            kept.append((float(created), sid))
        kept.sort(reverse=True)
        total = len(kept)
        sids = [sid for _, sid in kept[off : off + q.limit]]
    metas = [m for m in _hgetall_many(store, [k.session(s) for s in sids]) if m]
    return metas, total


def _tagged_page(store: Store, q: SessionQuery) -> tuple[list[str], int]:
    """A page of the sessions carrying ``q.tag`` (issue 15): the tag's index (scored by
    creation) gives the candidates, the other filters are checked pipelined."""
    k = store.keys
    candidates = store.client.zrevrangebyscore(k.tag_sessions(q.tag or ""),
                                               q.created.redis_max(), q.created.redis_min())
    rows = _hmget_chunks(store, [k.session(s) for s in candidates],
                         ["status", "kefu_id", "kehu_id"])
    kept = [sid for sid, (status, kefu_id, kehu_id) in zip(candidates, rows, strict=True)
            if status is not None  # (a session deleted with its user: not listed)
            and (q.status is None or status == q.status)
            and (q.kefu_id is None or kefu_id == q.kefu_id)
            and (q.owner is None or q.owner in (kefu_id, kehu_id))]
    off = (q.page - 1) * q.limit
    return kept[off : off + q.limit], len(kept)


def kefu_customers(store: Store, kefu_id: str) -> list[dict[str, str]]:
    """The hashes of a kefu's active sessions (its current customers)."""
    sids = sorted(store.client.smembers(store.keys.active_sessions(kefu_id)))
    return [m for m in _hgetall_many(store, [store.keys.session(s) for s in sids]) if m]


def last_sent(store: Store, user_ids: list[str]) -> dict[str, float]:
    """Epoch seconds of each user's last stored chat message (users who sent none are
    absent), from the per-sender index the append scripts keep (scored in ms)."""
    pipe = store.client.pipeline(transaction=False)
    for uid in user_ids:
        pipe.zrevrange(store.keys.user_sent(uid), 0, 0, withscores=True)
    out: dict[str, float] = {}
    for uid, top in zip(user_ids, pipe.execute(), strict=True):
        if top:
            out[uid] = float(top[0][1]) / 1000.0
    return out


def user_ids(store: Store, user_type: str | None) -> list[str]:
    """User ids, newest first, optionally of one type (types read pipelined)."""
    r, k = store.client, store.keys
    ids: list[str] = r.zrevrange(k.users, 0, -1)
    if user_type is None:
        return ids
    types = _hmget_chunks(store, [k.user(u) for u in ids], ["user_type"])
    return [u for u, (t,) in zip(ids, types, strict=True) if t == user_type]


def page_of_user_ids(store: Store, page: int, limit: int) -> tuple[list[str], int]:
    """One page of every user id, newest first → (ids, exact total): ZREVRANGE + ZCARD."""
    r, k = store.client, store.keys
    off = (page - 1) * limit
    pipe = r.pipeline(transaction=False)
    pipe.zcard(k.users)
    pipe.zrevrange(k.users, off, off + limit - 1)
    total, ids = pipe.execute()
    return list(ids), int(total)

