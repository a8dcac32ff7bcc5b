"""Analytics reads (seed 5.1–5.4) from the hour/day counters the append scripts keep.

Blocking Redis calls: run them off the IOLoop (``bridge.run_io``). No message is ever
read here: message figures come from the ``stats:h:YYYYMMDDHH`` / ``stats:d:YYYYMMDD``
hashes (fields ``messages``, ``kefu_messages``, ``kehu_messages``, ``type:{ct}``,
``resp_total``, ``resp_count``), sessions from the ``sessions`` ZSET (scored by
creation), users from the ``users`` ZSET and the user hashes (pipelined).

A range resolves to whole UTC hours (the counters' granularity). Up to
:data:`HOURLY_MAX_HOURS` hours every hour bucket is read (and days are their sums);
longer ranges read the day bucket of each whole day and hour buckets only at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kefu.persistence.dispatch import figures_of
from kefu.persistence.redis import Store

HOUR, DAY = 3600, 86400
HOURLY_MAX_HOURS = 31 * 24
MAX_RANGE_DAYS = 366
DEFAULT_DAYS = 7


def default_range(t: float) -> tuple[int, int]:
    """The last :data:`DEFAULT_DAYS` UTC days up to ``t``, its day included → (start_s,
    end_s)."""
    today = int(t) - int(t) % DAY
    return today - (DEFAULT_DAYS - 1) * DAY, int(t)


def _stamp(ts: int, fmt: str) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


@dataclass
class Bucket:
    """Counters of one hour, one day or a whole range."""

    messages: int = 0
    kefu_messages: int = 0
    kehu_messages: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    resp_total: float = 0.0
    resp_count: int = 0

    def add_raw(self, raw: dict[str, str]) -> None:
        for name, value in raw.items():
            if name.startswith("type:"):
                ct = name[5:]
                self.by_type[ct] = self.by_type.get(ct, 0) + int(value)
            elif name == "resp_total":
                self.resp_total += float(value)
            elif name in ("messages", "kefu_messages", "kehu_messages", "resp_count"):
                setattr(self, name, getattr(self, name) + int(value))

    def add(self, other: Bucket) -> None:
        self.messages += other.messages
        self.kefu_messages += other.kefu_messages
        self.kehu_messages += other.kehu_messages
        for ct, n in other.by_type.items():
            self.by_type[ct] = self.by_type.get(ct, 0) + n
        self.resp_total += other.resp_total
        self.resp_count += other.resp_count

    @property
    def avg_response(self) -> float | None:
        return round(self.resp_total / self.resp_count, 1) if self.resp_count else None

    def view(self) -> dict[str, Any]:
        return {"messages": self.messages, "kefu_messages": self.kefu_messages,
                "kehu_messages": self.kehu_messages, "by_type": dict(sorted(self.by_type.items())),
                "avg_response_time_seconds": self.avg_response, "responses": self.resp_count}


@dataclass
class Series:
    total: Bucket
    days: list[tuple[str, Bucket]]          # ("YYYY-MM-DD", counters)
    hours: list[tuple[str, Bucket]] | None  # ("YYYY-MM-DDTHH:00:00Z", counters) or None


class Analytics:
    """Counter, session and user figures over a date range."""

    def __init__(self, store: Store) -> None:
        self.r = store.client
        self.k = store.keys

    def _read(self, keys: list[str]) -> list[dict[str, str]]:
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return pipe.execute()

    def series(self, start_s: int, end_s: int) -> Series:
        """Message counters over ``[start_s, end_s]`` (resolved to whole hours)."""
        first_h, last_h = start_s - start_s % HOUR, end_s - end_s % HOUR
        hours = list(range(first_h, last_h + 1, HOUR))
        day_starts = list(range(first_h - first_h % DAY, last_h + 1, DAY))
        days: dict[int, Bucket] = {d: Bucket() for d in day_starts}
        hourly: list[tuple[str, Bucket]] | None = None
        if len(hours) <= HOURLY_MAX_HOURS:
            raws = self._read([self.k.stats_hour(_stamp(h, "%Y%m%d%H")) for h in hours])
            hourly = []
            for h, raw in zip(hours, raws, strict=True):
                b = Bucket()
                b.add_raw(raw)
                hourly.append((_stamp(h, "%Y-%m-%dT%H:00:00Z"), b))
                days[h - h % DAY].add(b)
        else:
            keys, owners = [], []
            for d in day_starts:
                if d >= first_h and d + DAY - HOUR <= last_h:  # the whole day is in range
                    keys.append(self.k.stats_day(_stamp(d, "%Y%m%d")))
                    owners.append(d)
                    continue
                for h in range(max(d, first_h), min(d + DAY - HOUR, last_h) + 1, HOUR):
                    keys.append(self.k.stats_hour(_stamp(h, "%Y%m%d%H")))
                    owners.append(d)
            for d, raw in zip(owners, self._read(keys), strict=True):
                days[d].add_raw(raw)
        total = Bucket()
        for b in days.values():
            total.add(b)
        return Series(total=total, hours=hourly,
                      days=[(_stamp(d, "%Y-%m-%d"), days[d]) for d in day_starts])

    def today(self, t: float) -> Bucket:
        b = Bucket()
        b.add_raw(self.r.hgetall(self.k.stats_day(_stamp(int(t), "%Y%m%d"))))
        return b

    def user_count(self) -> int:
        return int(self.r.zcard(self.k.users))

    def sessions_created(self, start_s: float, end_s: float) -> int:
        """Sessions first opened in ``[start_s, end_s]`` (the ``sessions`` ZSET)."""
        return int(self.r.zcount(self.k.sessions, start_s, f"({end_s + 1}"))

    def satisfaction(self, start_s: int, end_s: int) -> tuple[float | None, int]:
        """Average rating of the sessions created in range that were rated → (avg, count)."""
        total, count, offset = 0.0, 0, 0
        while True:
            sids = self.r.zrangebyscore(self.k.sessions, start_s, f"({end_s + 1}",
                                        start=offset, num=1000)
            if not sids:
                break
            pipe = self.r.pipeline(transaction=False)
            for sid in sids:
                pipe.hget(self.k.session(sid), "satisfaction")
            for raw in pipe.execute():
                if raw not in (None, ""):
                    total += float(raw)
                    count += 1
            offset += len(sids)
            if len(sids) < 1000:
                break
        return (round(total / count, 2) if count else None), count

    def users(self, start_s: int, end_s: int) -> dict[str, Any]:
        """Users by type, all and created in range (ZSET ``users`` + pipelined HGETs)."""
        by_type: dict[str, int] = {}
        new_by_type: dict[str, int] = {}
        offset = 0
        while True:
            rows = self.r.zrange(self.k.users, offset, offset + 999, withscores=True)
            if not rows:
                break
            pipe = self.r.pipeline(transaction=False)
            for uid, _score in rows:
                pipe.hget(self.k.user(uid), "user_type")
            for (_uid, score), kind in zip(rows, pipe.execute(), strict=True):
                if kind is None:
                    continue
                by_type[kind] = by_type.get(kind, 0) + 1
                if start_s <= score < end_s + 1:
                    new_by_type[kind] = new_by_type.get(kind, 0) + 1
            offset += len(rows)
            if len(rows) < 1000:
                break
        return {"total": sum(by_type.values()), "by_type": by_type,
                "new": sum(new_by_type.values()), "new_by_type": new_by_type}

    def agent_figures(self) -> dict[str, dict[str, float]]:
        """Per kefu: all-time response and rating totals (``rt``, ``rc``, ``st``, ``sc``)."""
        return figures_of(self.r.hgetall(self.k.agent_figures))
