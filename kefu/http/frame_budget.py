"""A connection's frame budget: how many frames of each type a client may send.

Each client frame type (and ``invalid``, for frames that fail to parse) has a token
bucket: ``rate`` frames per second, holding at most three seconds' worth, so a burst is
fine and a flood is not. A frame over budget is refused (the socket answers
``rate_limited``, once per empty spell of that type, so a flood cannot make the server
queue an error frame per frame it ignores). Every refusal also costs one *strike*;
strikes come back at one per second, and a connection that runs out of them is flooding
for good and is closed with 1008. Pure and clock-injected: unit-tested without sockets
(``tests/unit/test_frame_budget.py``). Loop thread only (one per connection).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

BURST_SECONDS = 3.0


@functools.lru_cache(maxsize=8)
def parse_rates(spec: str) -> dict[str, float]:
    """``"message:10,read:10"`` → ``{"message": 10.0, "read": 10.0}`` (KEFU_WS_FRAME_RATES)."""
    rates: dict[str, float] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition(":")
        rate = float(value)
        if rate <= 0 or not math.isfinite(rate):
            raise ValueError(f"frame rate of {name.strip()!r} must be a positive number")
        rates[name.strip()] = rate
    return rates


@dataclass
class _Bucket:
    rate: float
    tokens: float
    at: float
    warned: bool = False  # the client was told, and has not had a token since


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    warn: bool = False  # refused, and the client should be told (first of a spell)
    retry_after: float = 0.0  # seconds until the next frame of this type is allowed
    close: bool = False  # out of strikes: close the connection (1008)


class FrameBudget:
    """The budget of one connection."""

    __slots__ = ("buckets", "default_rate", "rates", "strike_at", "strikes", "strikes_max")

    def __init__(self, rates: dict[str, float], strikes: int, now: float) -> None:
        self.rates = rates
        self.default_rate = rates.get("invalid", 5.0)
        self.buckets: dict[str, _Bucket] = {}
        self.strikes_max = float(strikes)
        self.strikes = float(strikes)
        self.strike_at = now

    def spend(self, kind: str, now: float) -> Verdict:
        """Count one frame of ``kind`` arriving at ``now`` (monotonic seconds)."""
        bucket = self.buckets.get(kind)
        if bucket is None:
            rate = self.rates.get(kind, self.default_rate)
            bucket = self.buckets[kind] = _Bucket(rate, rate * BURST_SECONDS, now)
        cap = bucket.rate * BURST_SECONDS
        bucket.tokens = min(cap, bucket.tokens + (now - bucket.at) * bucket.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict(True)
        self.strikes = min(self.strikes_max, self.strikes + (now - self.strike_at))
        self.strike_at = now
        self.strikes -= 1.0
        warn = not bucket.warned
        bucket.warned = True
        return Verdict(False, warn=warn, retry_after=(1.0 - bucket.tokens) / bucket.rate,
                       close=self.strikes < 0)
