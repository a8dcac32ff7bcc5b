"""Pure functions of the benchmark (kefu/bench/stats.py): histogram buckets, merge,
percentiles, and the open-loop schedule. No timing assertions."""

from __future__ import annotations

import math

import pytest

from kefu.bench.stats import (
    Histogram,
    bucket_bounds,
    bucket_of,
    merge_all,
    open_loop_schedule,
    planned_sends,
    split_pairs,
)


def test_buckets_exact_below_1024_us_and_monotone() -> None:
    for v in range(0, 1024):
        assert bucket_of(v) == v
        assert bucket_bounds(v) == (v, v)
    prev = -1
    for v in list(range(0, 5000)) + [10**5, 10**6, 10**7, 10**9]:
        b = bucket_of(v)
        assert b >= prev
        prev = b
        lo, hi = bucket_bounds(b)
        assert lo <= v <= hi
        assert (hi - lo + 1) <= max(1, v / 512)  # relative width ≤ 1/512


def test_negative_values_count_as_zero() -> None:
    assert bucket_of(-5) == 0
    h = Histogram()
    h.add(-3)
    assert h.min_us == 0 and h.percentile(50) == 0


def test_percentiles_nearest_rank_exact_range() -> None:
    h = Histogram()
    for v in range(1, 101):  # 1..100 µs, exact buckets
        h.add(v)
    assert h.percentile(50) == 50
    assert h.percentile(99) == 99
    assert h.percentile(100) == 100
    assert h.percentile(0) == 1
    assert h.mean() == pytest.approx(50.5)
    assert Histogram().percentile(50) is None


def test_percentile_within_bucket_precision_for_large_values() -> None:
    h = Histogram()
    values = [1000 * i + 7 for i in range(1, 1001)]  # 1 ms .. 1 s
    for v in values:
        h.add(v)
    for p in (50, 90, 99, 99.9):
        exact = sorted(values)[max(1, math.ceil(p / 100 * len(values))) - 1]
        assert abs(h.percentile(p) - exact) <= exact / 512
    assert h.percentile(100) == h.max_us == values[-1]


def test_merge_equals_one_histogram_of_all_samples() -> None:
    a, b, whole = Histogram(), Histogram(), Histogram()
    for i, v in enumerate([3, 900, 1500, 70_000, 12, 2_000_000, 45, 45]):
        (a if i % 2 else b).add(v)
        whole.add(v)
    merged = merge_all([a, b])
    assert merged.counts == whole.counts
    assert (merged.n, merged.total_us, merged.min_us, merged.max_us) == (
        whole.n, whole.total_us, whole.min_us, whole.max_us)
    for p in (1, 50, 99, 100):
        assert merged.percentile(p) == whole.percentile(p)


def test_merge_with_empty_and_dict_round_trip() -> None:
    h = Histogram()
    h.add_seconds(0.0025)
    assert Histogram().merge(h).to_dict() == h.to_dict()
    assert h.merge(Histogram()).n == 1
    # counts keys become strings through JSON; from_dict accepts both
    d = h.to_dict()
    d["counts"] = {str(k): v for k, v in d["counts"].items()}
    assert Histogram.from_dict(d).counts == h.counts
    assert h.summary_ms()["p50"] == pytest.approx(2.5, rel=1 / 512)


def test_open_loop_schedule_evenly_spaced_round_robin() -> None:
    plan = list(open_loop_schedule(rate=10, pairs=4, seconds=1))
    assert len(plan) == 10
    assert [p for _, p in plan] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert [t for t, _ in plan] == pytest.approx([j / 10 for j in range(10)])
    # each pair sends every pairs/rate seconds
    pair0 = [t for t, p in plan if p == 0]
    assert pair0 == pytest.approx([0.0, 0.4, 0.8])
    assert all(t < 1 for t, _ in plan)


def test_open_loop_worker_slices_partition_the_global_plan() -> None:
    rate, pairs, seconds = 1000, 7, 0.05
    whole = list(open_loop_schedule(rate, pairs, seconds))
    parts = []
    for lo, hi in split_pairs(pairs, 3):
        part = list(open_loop_schedule(rate, pairs, seconds, lo, hi))
        assert part == sorted(part)
        assert all(lo <= p < hi for _, p in part)
        assert len(part) == planned_sends(rate, pairs, seconds, lo, hi)
        parts += part
    assert sorted(parts) == sorted(whole)
    assert planned_sends(rate, pairs, seconds) == len(whole) == 50


def test_open_loop_degenerate_inputs() -> None:
    assert list(open_loop_schedule(0, 5, 1)) == []
    assert list(open_loop_schedule(100, 0, 1)) == []
    assert list(open_loop_schedule(100, 5, 0)) == []
    assert planned_sends(100, 5, 1, 3, 3) == 0
    # fractional totals: sends at j/rate strictly below `seconds`
    assert len(list(open_loop_schedule(3, 2, 1))) == 3
    assert len(list(open_loop_schedule(3, 2, 1.01))) == 4


def test_split_pairs() -> None:
    assert split_pairs(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert split_pairs(2, 5) == [(0, 1), (1, 2)]
    assert split_pairs(5, 1) == [(0, 5)]
