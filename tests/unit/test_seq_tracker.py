"""SeqTracker: delivered seqs as a floor plus a sparse set (kefu/http/connections.py)."""

from __future__ import annotations

from kefu.http.seq_tracker import SeqTracker


def test_empty_tracker():
    t = SeqTracker()
    assert t.floor == 0
    assert not t.has(1)
    assert t.has(0)


def test_initial_floor():
    t = SeqTracker(floor=5)
    assert t.has(5)
    assert t.has(1)
    assert not t.has(6)


def test_in_order_adds_advance_floor_without_set():
    t = SeqTracker()
    for s in range(1, 6):
        t.add(s)
    assert t.floor == 5
    assert t.above == set()
    assert t.has(3) and t.has(5) and not t.has(6)


def test_gap_kept_sparse_then_compacted():
    t = SeqTracker()
    t.add(1)
    t.add(3)
    t.add(4)
    assert t.floor == 1
    assert t.above == {3, 4}
    assert t.has(3) and t.has(4)
    assert not t.has(2)
    t.add(2)
    assert t.floor == 4
    assert t.above == set()


def test_compaction_stops_at_next_gap():
    t = SeqTracker()
    for s in (2, 3, 5, 6):
        t.add(s)
    t.add(1)
    assert t.floor == 3
    assert t.above == {5, 6}
    assert not t.has(4)


def test_add_at_or_below_floor_is_noop():
    t = SeqTracker(floor=3)
    t.add(2)
    t.add(3)
    assert t.floor == 3
    assert t.above == set()


def test_add_twice_is_idempotent():
    t = SeqTracker()
    t.add(4)
    t.add(4)
    assert t.above == {4}


def test_raise_floor_drops_covered_and_compacts():
    t = SeqTracker()
    for s in (2, 4, 7, 8):
        t.add(s)
    t.raise_floor(6)
    assert t.floor == 8  # 7 and 8 were contiguous with the new floor
    assert t.above == set()
    assert t.has(5)


def test_raise_floor_keeps_sparse_above_gap():
    t = SeqTracker()
    t.add(10)
    t.raise_floor(5)
    assert t.floor == 5
    assert t.above == {10}
    assert not t.has(6)
    assert t.has(10)


def test_raise_floor_never_lowers():
    t = SeqTracker()
    for s in range(1, 9):
        t.add(s)
    t.raise_floor(3)
    assert t.floor == 8
    assert t.has(8)
