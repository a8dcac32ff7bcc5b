"""Fixed-window rate limits kept in Redis, so they hold across server processes.

One counter per (kind, subject, window index): ``INCR``, and on the first hit
``PEXPIREAT`` the window's end — in a Lua script, so a counter can never be left without
an expiry, and one script call counts a whole batch of hits (one command to encode and
parse, however many kehu). Keys come from :meth:`Keys.rate`. Blocking: call these from an
executor thread (``bridge.run_io``) or an actor thread, never the IOLoop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kefu.domain import now
from kefu.persistence.redis import Store

# KEYS: counters of one window (repeats allowed).  ARGV: the window's end, epoch ms.
# → the count after each hit, in order.
HIT_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local c = redis.call('INCR', key)
  if c == 1 then redis.call('PEXPIREAT', key, ARGV[1]) end
  out[i] = c
end
return out
"""

# Leases: take up to ARGV[3] hits at once from each counter, never past the limit ARGV[2].
# KEYS: counters of one window.  ARGV: window end (epoch ms), limit, chunk.  → grants.
LEASE_LUA = """
local limit, chunk = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  local c = tonumber(redis.call('GET', key) or '0')
  local grant = math.min(chunk, limit - c)
  if grant > 0 then
    redis.call('INCRBY', key, grant)
    if c == 0 then redis.call('PEXPIREAT', key, ARGV[1]) end
  else
    grant = 0
  end
  out[i] = grant
end
return out
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
        self._lease = self.r.register_script(LEASE_LUA)

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
        """:meth:`hit` for each subject (repeats allowed), in one script call."""
        if not limit.enabled or not subjects:
            return [ALLOW] * len(subjects)
        at = now()
        index, end = self._window(limit, at)
        keys = [self.keys.rate(limit.kind, subject, index) for subject in subjects]
        counts = self._hit(keys=keys, args=[int(end * 1000)])
        return [self._verdict(limit, int(c), end, at) for c in counts]

    def lease_many(self, limit: Limit, subjects: list[str], chunk: int
                   ) -> tuple[list[int], float]:
        """Take up to ``chunk`` hits for each subject (repeats allowed) in one script
        call → (hits granted to each, 0 when the window is full; the window's end). The
        caller spends its grants locally: the counter already holds them, so however many
        processes lease, a window never grants more than the limit."""
        at = now()
        index, end = self._window(limit, at)
        keys = [self.keys.rate(limit.kind, subject, index) for subject in subjects]
        grants = self._lease(keys=keys, args=[int(end * 1000), limit.limit, chunk])
        return [int(g) for g in grants], end

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
