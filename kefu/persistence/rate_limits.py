"""Fixed-window rate limits kept in Redis, so they hold across server processes.

One counter per (kind, subject, window index): ``INCR``, and on the first hit
``PEXPIREAT`` the window's end — one Lua script, so one atomic round trip, and a counter
can never be left without an expiry. Keys come from :meth:`Keys.rate`. Blocking: call
these from an executor thread (``bridge.run_io``) or an actor thread, never the IOLoop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kefu.domain import now
from kefu.persistence.redis import Store

# KEYS: the window's counter.  ARGV: the window's end, epoch milliseconds.  → the count.
HIT_LUA = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return c
"""


@dataclass(frozen=True)
class Limit:
    """``limit`` hits per ``window`` seconds for one ``kind`` (0 = unlimited)."""

    kind: str
    limit: int
    window: int

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one hit (or peek): ``retry_after`` seconds (≥ 1) when refused."""

    allowed: bool
    count: int
    retry_after: int = 0


ALLOW = Verdict(allowed=True, count=0)


class RateLimits:
    """Counters for any :class:`Limit`. Thread-safe (the Redis client is)."""

    def __init__(self, store: Store) -> None:
        self.r = store.client
        self.keys = store.keys
        self._hit = self.r.register_script(HIT_LUA)

    def _window(self, limit: Limit, at: float) -> tuple[int, float]:
        """The window index and its end (epoch seconds) at time ``at``."""
        index = int(at // limit.window)
        return index, (index + 1) * limit.window

    def _verdict(self, limit: Limit, count: int, end: float, at: float) -> Verdict:
        if count <= limit.limit:
            return Verdict(True, count)
        return Verdict(False, count, max(1, math.ceil(end - at)))

    def hit(self, limit: Limit, subject: str) -> Verdict:
        """Count one hit for ``subject``; refused once the window's count passes the limit
        (refused hits count too: hammering does not shorten the wait)."""
        return self.hit_many(limit, [subject])[0]

    def hit_many(self, limit: Limit, subjects: list[str]) -> list[Verdict]:
        """:meth:`hit` for each subject (repeats allowed), in one pipelined round trip."""
        if not limit.enabled:
            return [ALLOW] * len(subjects)
        at = now()
        index, end = self._window(limit, at)
        end_ms = str(int(end * 1000))
        pipe = self.r.pipeline(transaction=False)
        for subject in subjects:
            self._hit(keys=[self.keys.rate(limit.kind, subject, index)], args=[end_ms],
                      client=pipe)
        return [self._verdict(limit, int(c), end, at) for c in pipe.execute()]

    def peek(self, limit: Limit, subject: str) -> Verdict:
        """Would the next hit be refused because the window is already full? (No count.)"""
        if not limit.enabled:
            return ALLOW
        at = now()
        index, end = self._window(limit, at)
        count = int(self.r.get(self.keys.rate(limit.kind, subject, index)) or 0)
        if count < limit.limit:
            return Verdict(True, count)
        return Verdict(False, count, max(1, math.ceil(end - at)))

    def clear(self, limit: Limit, subject: str) -> None:
        """Forget the subject's count in the current window (a successful login)."""
        if limit.enabled:
            index, _ = self._window(limit, now())
            self.r.delete(self.keys.rate(limit.kind, subject, index))
