"""Session Ticks are spread over ``session_tick_every`` ticks (kefu/actors/system.py)."""

from collections import Counter

from kefu.actors.system import in_tick_slice


def test_every_session_hears_exactly_one_tick_in_each_round() -> None:
    keys = [f"kehu_{i:05x}:kefu_{i % 37}" for i in range(5000)]
    for start in (0, 7, 123):
        for key in keys:
            heard = [n for n in range(start, start + 10) if in_tick_slice(key, n, 10)]
            assert len(heard) == 1


def test_the_sessions_are_spread_evenly_over_the_round() -> None:
    keys = [f"kehu_{i:05x}:kefu_{i % 37}" for i in range(5000)]
    per_tick = Counter(n for key in keys for n in range(10) if in_tick_slice(key, n, 10))
    assert len(per_tick) == 10
    assert max(per_tick.values()) < 1.3 * 500 and min(per_tick.values()) > 0.7 * 500


def test_every_one_means_every_tick() -> None:
    assert all(in_tick_slice("kehu_1:kefu_1", n, 1) for n in range(5))
