"""The per-connection frame budget (kefu/http/frame_budget.py), on a virtual clock."""

from __future__ import annotations

import pytest

from kefu.http.frame_budget import FrameBudget, parse_rates


def test_parse_rates_reads_the_setting() -> None:
    assert parse_rates("message:10, read:2.5,") == {"message": 10.0, "read": 2.5}
    with pytest.raises(ValueError):
        parse_rates("message:0")
    with pytest.raises(ValueError):
        parse_rates("message:nan")


def test_a_burst_of_three_seconds_passes_then_the_rate_holds() -> None:
    b = FrameBudget({"read": 2.0}, strikes=100, now=0.0)
    assert all(b.spend("read", 0.0).allowed for _ in range(6))  # 3 s worth at 2/s
    refused = b.spend("read", 0.0)
    assert not refused.allowed and refused.warn and refused.retry_after == pytest.approx(0.5)
    assert b.spend("read", 0.5).allowed  # one token back after half a second
    assert not b.spend("read", 0.5).allowed


def test_types_have_separate_buckets_and_unknown_ones_share_invalid() -> None:
    b = FrameBudget({"read": 1.0, "invalid": 1.0}, strikes=100, now=0.0)
    for _ in range(3):
        assert b.spend("read", 0.0).allowed
    assert not b.spend("read", 0.0).allowed
    assert b.spend("typing", 0.0).allowed  # its own bucket, at the invalid rate
    assert b.spend("ping", 0.0).allowed


def test_the_client_is_warned_once_per_empty_spell() -> None:
    b = FrameBudget({"message": 1.0}, strikes=100, now=0.0)
    for _ in range(3):
        b.spend("message", 0.0)
    warns = [b.spend("message", 0.1).warn for _ in range(10)]
    assert warns == [True] + [False] * 9  # one error frame, not one per refused frame
    assert b.spend("message", 2.0).allowed  # ~2 tokens back by t=2: a new spell follows
    assert b.spend("message", 2.0).allowed
    assert b.spend("message", 2.0).warn  # told again


def test_a_sustained_flood_runs_out_of_strikes_and_closes() -> None:
    b = FrameBudget({"read": 1.0}, strikes=5, now=0.0)
    for _ in range(3):
        b.spend("read", 0.0)
    verdicts = [b.spend("read", 0.0) for _ in range(6)]
    assert [v.close for v in verdicts] == [False] * 5 + [True]


def test_strikes_come_back_one_per_second() -> None:
    b = FrameBudget({"read": 1.0}, strikes=2, now=0.0)
    for _ in range(3):
        b.spend("read", 0.0)
    assert not b.spend("read", 0.0).close
    assert not b.spend("read", 0.0).close  # strikes now 0
    t = 10.0  # a quiet spell: strikes refill (to the cap), tokens too
    for _ in range(3):
        assert b.spend("read", t).allowed
    assert not b.spend("read", t).close
    assert not b.spend("read", t).close
    assert b.spend("read", t).close
