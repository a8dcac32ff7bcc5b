"""Reads of sessions and their history, in the seed's shapes. Blocking: call them off
the IOLoop (``bridge.run_io``). Handlers read here; only actors write."""

from __future__ import annotations

import bisect
from typing import Any

import orjson

from kefu.domain import SessionStatus, iso, now
from kefu.persistence.messages_query import apply_tombstones
from kefu.persistence.redis import Store

EVENT_TEXT = {
    "opened": "会话开始",
    SessionStatus.TRANSFERRED.value: "会话已转接",
    SessionStatus.COMPLETED.value: "会话已结束",
}


def _f(meta: dict[str, str], name: str) -> float | None:
    raw = meta.get(name)
    return float(raw) if raw not in (None, "") else None


def session_view(meta: dict[str, str]) -> dict[str, Any]:
    """A session hash → the seed's session object (plus a few documented extras)."""
    return {
        "session_id": meta["session_id"],
        "kefu_id": meta.get("kefu_id"),
        "kefu_name": meta.get("kefu_name") or meta.get("kefu_id"),
        "kehu_id": meta.get("kehu_id"),
        "kehu_name": meta.get("kehu_name") or meta.get("kehu_id"),
        "status": meta.get("status"),
        "created_at": iso(_f(meta, "created_at")),
        "updated_at": iso(_f(meta, "updated_at")),
        "message_count": int(meta.get("message_count", 0)),
        "last_message": meta.get("last_message") or None,
        "last_seq": int(meta.get("seq", 0)),
        "ended_at": iso(_f(meta, "ended_at")),
        "transferred_from": meta.get("transferred_from") or None,
        "transferred_to": meta.get("transferred_to") or None,
        # read marks: the highest seq each side has read (a reloaded client shows 已读)
        "read": {"kehu": int(meta.get("read_kehu", 0)), "kefu": int(meta.get("read_kefu", 0))},
    }


def statistics(meta: dict[str, str]) -> dict[str, Any]:
    """The seed's statistics, from the counters kept as messages are written."""
    created = _f(meta, "created_at") or now()
    end = _f(meta, "ended_at") if meta.get("status") != SessionStatus.ACTIVE else None
    resp_count = int(meta.get("resp_count", 0))
    resp_total = float(meta.get("resp_total", 0))
    first = _f(meta, "first_response_time")
    sat = _f(meta, "satisfaction")
    return {
        "total_messages": int(meta.get("message_count", 0)),
        "kefu_messages": int(meta.get("kefu_messages", 0)),
        "kehu_messages": int(meta.get("kehu_messages", 0)),
        "avg_response_time_seconds": round(resp_total / resp_count, 1) if resp_count else None,
        "first_response_time_seconds": round(first, 1) if first is not None else None,
        "duration_seconds": int((end or now()) - created),
        "satisfaction_score": sat,
        "rating_comment": meta.get("rating_comment") or None,
    }


class History:
    """Session and message reads."""

    def __init__(self, store: Store) -> None:
        self.r = store.client
        self.k = store.keys

    def meta(self, sid: str) -> dict[str, str]:
        return self.r.hgetall(self.k.session(sid))

    def active_sessions(self, user_id: str) -> list[dict[str, Any]]:
        sids = sorted(self.r.smembers(self.k.active_sessions(user_id)))
        pipe = self.r.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(self.k.session(sid))
        return [session_view(m) for m in pipe.execute() if m]

    def exists(self, sid: str) -> bool:
        """Is there a session ``sid`` (active or not)? One round trip, nothing written."""
        return bool(self.r.exists(self.k.session(sid)))

    def is_active_for(self, sid: str, user_id: str) -> bool:
        """Is ``sid`` one of ``user_id``'s active sessions?"""
        return bool(self.r.sismember(self.k.active_sessions(user_id), sid))

    def sessions_of(self, user_id: str, sids: list[str]) -> set[str]:
        """Which of ``sids`` are sessions ``user_id`` has taken part in (one round trip)."""
        if not sids:
            return set()
        scores = self.r.zmscore(self.k.user_sessions(user_id), sids)
        return {sid for sid, score in zip(sids, scores, strict=True) if score is not None}

    def last_seq(self, sid: str) -> int:
        return int(self.r.hget(self.k.session(sid), "seq") or 0)

    def messages_range(self, sid: str, first: int, last: int) -> list[dict[str, Any]]:
        """Stored messages with ``first <= seq <= last``, in order."""
        if last < first:
            return []
        entries = self.r.xrange(self.k.stream(sid), f"0-{first}", f"0-{last}")
        return apply_tombstones(self.r, self.k, [orjson.loads(f["m"]) for _id, f in entries])

    def messages_after(self, sid: str, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        entries = self.r.xrange(self.k.stream(sid), f"(0-{after}", "+", count=limit)
        return apply_tombstones(self.r, self.k, [orjson.loads(f["m"]) for _id, f in entries])

    def events(self, sid: str) -> list[dict[str, Any]]:
        return [orjson.loads(e) for e in self.r.lrange(self.k.events(sid), 0, -1)]

    def page(self, sid: str, meta: dict[str, str], page: int, limit: int,
             include_system: bool) -> tuple[list[dict[str, Any]], int]:
        """One page of a session's history, oldest first → (messages, total)."""
        n = int(meta.get("seq", 0))
        off = (page - 1) * limit
        if not include_system:
            return self.messages_range(sid, off + 1, min(off + limit, n)), n
        events = self.events(sid)
        after = [int(e.get("after_seq") or 0) for e in events]
        total = n + len(events)

        def pos(seq: int) -> int:  # merged index of message ``seq``
            return seq - 1 + bisect.bisect_left(after, seq)

        lo, hi = 1, n + 1  # first seq with pos >= off
        while lo < hi:
            mid = (lo + hi) // 2
            if pos(mid) >= off:
                hi = mid
            else:
                lo = mid + 1
        first = lo
        msgs = self.messages_range(sid, first, min(n, first + limit - 1))
        items: list[tuple[int, dict[str, Any]]] = [(pos(m["seq"]), m) for m in msgs]
        for i, e in enumerate(events):
            p = after[i] + i
            if off <= p < off + limit:
                items.append((p, self._system_message(sid, i, e)))
        items.sort(key=lambda t: t[0])
        return [m for p, m in items if off <= p < off + limit], total

    @staticmethod
    def _system_message(sid: str, index: int, event: dict[str, Any]) -> dict[str, Any]:
        kind = event.get("event", "")
        return {"id": f"sys_{sid}_{index}", "from": "system", "to": None,
                "content": EVENT_TEXT.get(kind, kind), "content_type": "System",
                "timestamp": iso(event.get("ts")), "url": None, "session_id": sid,
                "seq": None, "event": event}
