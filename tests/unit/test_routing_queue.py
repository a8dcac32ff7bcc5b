"""queue_order and estimate_wait (kefu/actors/routing.py)."""

from __future__ import annotations

import orjson
import pytest

from kefu.actors.routing import QueueEntry, estimate_wait, queue_order
from kefu.actors.waiting_queue import WaitingQueue
from kefu.domain import Priority


def entry(kid: str, priority: Priority = Priority.NORMAL, since: float = 100.0,
          front: bool = False) -> QueueEntry:
    return QueueEntry(kid, kid.upper(), priority=priority, waiting_since=since, front=front)


def ids(entries: list[QueueEntry]) -> list[str]:
    return [e.kehu_id for e in entries]


def test_priority_high_normal_low():
    entries = [entry("low", Priority.LOW, 1.0), entry("normal", Priority.NORMAL, 2.0),
               entry("high", Priority.HIGH, 3.0)]
    assert ids(queue_order(entries)) == ["high", "normal", "low"]


def test_same_priority_by_waiting_since():
    entries = [entry("c", since=30.0), entry("a", since=10.0), entry("b", since=20.0)]
    assert ids(queue_order(entries)) == ["a", "b", "c"]


def test_ties_broken_by_id():
    entries = [entry("z", since=5.0), entry("m", since=5.0), entry("a", since=5.0)]
    assert ids(queue_order(entries)) == ["a", "m", "z"]


def test_front_entries_before_everyone():
    entries = [entry("high", Priority.HIGH, 1.0),
               entry("requeued", Priority.LOW, 999.0, front=True),
               entry("normal", Priority.NORMAL, 0.5)]
    assert ids(queue_order(entries)) == ["requeued", "high", "normal"]


def test_front_entries_ordered_among_themselves_by_priority_then_time():
    entries = [entry("f_low", Priority.LOW, 1.0, front=True),
               entry("f_high_late", Priority.HIGH, 9.0, front=True),
               entry("f_high_early", Priority.HIGH, 2.0, front=True),
               entry("plain", Priority.HIGH, 0.0)]
    assert ids(queue_order(entries)) == ["f_high_early", "f_high_late", "f_low", "plain"]


def test_queue_order_does_not_mutate_input():
    entries = [entry("b", since=2.0), entry("a", since=1.0)]
    queue_order(entries)
    assert ids(entries) == ["b", "a"]


def test_queue_order_empty():
    assert queue_order([]) == []


@pytest.mark.parametrize(("position", "capacity", "avg", "expected"), [
    (1, 1, 60.0, 60),
    (3, 2, 100.0, 150),
    (1, 3, 100.0, 34),   # 33.33… rounds up
    (2, 0, 90.0, 180),   # nobody online: one seat assumed
    (4, 4, 45.5, 46),
])
def test_estimate_wait(position, capacity, avg, expected):
    result = estimate_wait(position, capacity, avg)
    assert isinstance(result, int)
    assert result == expected


def test_estimate_wait_grows_with_position_and_shrinks_with_capacity():
    assert estimate_wait(5, 2, 60.0) > estimate_wait(2, 2, 60.0)
    assert estimate_wait(5, 5, 60.0) < estimate_wait(5, 1, 60.0)


def test_priority_is_a_head_start_so_nobody_starves():
    """Aging (docs/routing.md): with a head start of 300 s a low customer is served before
    high ones that arrive more than 600 s after it, and after high ones that came sooner."""
    low = QueueEntry("low", "L", Priority.LOW, waiting_since=1000.0)
    soon = QueueEntry("high_soon", "H", Priority.HIGH, waiting_since=1599.0)
    late = QueueEntry("high_late", "H", Priority.HIGH, waiting_since=1601.0)
    normal = QueueEntry("normal", "N", Priority.NORMAL, waiting_since=1250.0)
    entries = [late, normal, low, soon]
    assert ids(queue_order(entries, 300.0)) == ["normal", "high_soon", "low", "high_late"]
    assert ids(queue_order(entries)) == ["high_soon", "high_late", "normal", "low"]  # strict
    assert ids(queue_order(entries, 0.0)) == ["low", "normal", "high_soon", "high_late"]
    requeued = QueueEntry("back", "B", Priority.LOW, waiting_since=9999.0, front=True)
    assert ids(queue_order([*entries, requeued], 300.0))[0] == "back"  # still first


def test_the_waiting_queue_serves_by_head_start():
    raw = {k: orjson.dumps({"name": k, "priority": p, "since": t}).decode()
           for k, p, t in [("low", "low", 1000.0), ("high", "high", 1700.0)]}
    assert WaitingQueue.from_snapshot(raw, set(), 300.0).head().kehu_id == "low"
    assert WaitingQueue.from_snapshot(raw, set()).head().kehu_id == "high"
    assert [w["customer_id"] for w in WaitingQueue.from_snapshot(
        raw, set(), 300.0).waiting_view(2000.0)["waiting_customers"]] == ["low", "high"]
