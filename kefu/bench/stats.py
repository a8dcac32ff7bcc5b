"""Pure helpers for the benchmarks: a mergeable log-linear latency histogram and the
open-loop send schedule. No I/O and no clocks here, so they are unit-tested directly.

Histogram buckets (values are integer microseconds): below 1024 µs a bucket is exactly one
microsecond wide; above, a value keeps its 10 most significant bits, so a bucket is at most
1/512 (≈0.2 %) of its value wide. Workers ship ``counts`` (bucket → count) to the parent,
which merges them; percentiles are nearest-rank over the merged counts, reported as the
middle of the bucket (clamped to the exact min/max seen).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SIG_BITS = 10
_SPAN = 1 << SIG_BITS  # 1024


def bucket_of(us: int) -> int:
    """The bucket index of a value in µs (negative values count as 0)."""
    us = max(0, int(us))
    shift = max(0, us.bit_length() - SIG_BITS)
    return shift * _SPAN + (us >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest µs value that fall in bucket ``index`` (both inclusive)."""
    shift, mantissa = divmod(index, _SPAN)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


@dataclass
class Histogram:
    counts: dict[int, int] = field(default_factory=dict)
    n: int = 0
    total_us: int = 0
    min_us: int | None = None
    max_us: int | None = None

    def add(self, us: float) -> None:
        v = max(0, int(round(us)))
        b = bucket_of(v)
        self.counts[b] = self.counts.get(b, 0) + 1
        self.n += 1
        self.total_us += v
        self.min_us = v if self.min_us is None else min(self.min_us, v)
        self.max_us = v if self.max_us is None else max(self.max_us, v)

    def add_seconds(self, seconds: float) -> None:
        self.add(seconds * 1e6)

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other`` into this histogram (in place) and return self."""
        for b, c in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + c
        self.n += other.n
        self.total_us += other.total_us
        if other.min_us is not None:
            self.min_us = other.min_us if self.min_us is None else min(self.min_us, other.min_us)
        if other.max_us is not None:
            self.max_us = other.max_us if self.max_us is None else max(self.max_us, other.max_us)
        return self

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile in µs (``None`` when empty)."""
        if self.n == 0:
            return None
        rank = max(1, math.ceil(p / 100.0 * self.n))
        if rank >= self.n:
            return float(self.max_us or 0)
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                lo, hi = bucket_bounds(b)
                mid = (lo + hi) / 2
                assert self.min_us is not None and self.max_us is not None
                return float(min(max(mid, self.min_us), self.max_us))
        return float(self.max_us or 0)

    def mean(self) -> float | None:
        return self.total_us / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "n": self.n, "total_us": self.total_us,
                "min_us": self.min_us, "max_us": self.max_us}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Histogram:
        return cls(counts={int(k): v for k, v in d["counts"].items()}, n=d["n"],
                   total_us=d["total_us"], min_us=d["min_us"], max_us=d["max_us"])

    def summary_ms(self) -> dict[str, float | None]:
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v / 1000.0, 3)

        return {"n": self.n, "p50": ms(self.percentile(50)), "p99": ms(self.percentile(99)),
                "p999": ms(self.percentile(99.9)), "max": ms(self.max_us), "mean": ms(self.mean())}


def merge_all(hists: list[Histogram]) -> Histogram:
    out = Histogram()
    for h in hists:
        out.merge(h)
    return out


def open_loop_schedule(rate: float, pairs: int, seconds: float,
                       lo: int = 0, hi: int | None = None) -> Iterator[tuple[float, int]]:
    """The open-loop plan: ``(offset_seconds, pair)`` in time order, for pairs ``lo..hi-1``.

    The whole run sends ``rate`` messages per second, evenly spaced (1/rate apart), going
    round the ``pairs`` in order: send ``j`` is at ``j / rate`` and goes to pair ``j % pairs``.
    So each pair sends every ``pairs / rate`` seconds and the pairs are staggered. Only sends
    strictly before ``seconds`` are planned. A worker that owns pairs ``lo..hi-1`` gets its
    share of the same global plan.
    """
    if rate <= 0 or pairs <= 0 or seconds <= 0:
        return
    hi = pairs if hi is None else hi
    total = math.ceil(seconds * rate - 1e-9)  # sends j with j / rate < seconds
    cycle = 0
    while True:
        base = cycle * pairs
        if base >= total:
            return
        for pair in range(lo, hi):
            j = base + pair
            if j >= total:
                return
            yield j / rate, pair
        cycle += 1


def planned_sends(rate: float, pairs: int, seconds: float, lo: int = 0,
                  hi: int | None = None) -> int:
    """How many sends :func:`open_loop_schedule` plans for pairs ``lo..hi-1``."""
    hi = pairs if hi is None else hi
    if rate <= 0 or pairs <= 0 or seconds <= 0 or hi <= lo:
        return 0
    total = math.ceil(seconds * rate - 1e-9)
    full, rest = divmod(total, pairs)
    return full * (hi - lo) + max(0, min(hi, rest) - lo)


def split_pairs(pairs: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous slices ``(lo, hi)`` of ``range(pairs)``, as even as possible."""
    workers = max(1, min(workers, pairs)) if pairs else 1
    size, extra = divmod(pairs, workers)
    out, lo = [], 0
    for w in range(workers):
        hi = lo + size + (1 if w < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out
