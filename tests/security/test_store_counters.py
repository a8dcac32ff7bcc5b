"""The Redis side of rate limits and the audit log, on a real throwaway Redis."""

from __future__ import annotations

import time

import pytest

import kefu.persistence.audit as audit_mod
from kefu.persistence.audit import AuditLog, entry_fields
from kefu.persistence.rate_limits import Limit, RateLimits
from kefu.persistence.redis import Store


def test_fixed_window_counter(store: Store) -> None:
    limits = RateLimits(store)
    limit = Limit("t", 3, 3600)
    verdicts = [limits.hit(limit, "alice") for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.count for v in verdicts] == [1, 2, 3, 4, 5]
    end = (int(time.time() // 3600) + 1) * 3600
    assert all(0 < v.retry_after <= end - time.time() + 1 for v in verdicts[3:])
    assert limits.hit(limit, "bob").allowed  # per subject
    # one key per subject and window, under the prefix, expiring at the window's end
    keys = sorted(store.client.keys("*"))
    assert keys == sorted(store.keys.rate("t", s, int(time.time() // 3600))
                          for s in ("alice", "bob"))
    ttl = store.client.pttl(keys[0]) / 1000
    assert 0 < ttl <= end - time.time() + 1


def test_peek_clear_batch_and_off(store: Store) -> None:
    limits = RateLimits(store)
    limit = Limit("t", 2, 60)
    assert limits.peek(limit, "a").allowed and limits.peek(limit, "a").count == 0
    out = limits.hit_many(limit, ["a", "b", "a", "a"])  # one round trip, in order
    assert [(v.allowed, v.count) for v in out] == [(True, 1), (True, 1), (True, 2),
                                                   (False, 3)]
    assert not limits.peek(limit, "a").allowed and limits.peek(limit, "b").allowed
    limits.clear(limit, "a")
    assert limits.peek(limit, "a").count == 0
    off = Limit("t", 0, 60)
    assert all(v.allowed for v in limits.hit_many(off, ["z"] * 10))
    assert store.client.exists(store.keys.rate("t", "z", int(time.time() // 60))) == 0


def test_audit_pages_newest_first_across_chunks(store: Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_mod, "SCAN_CHUNK", 4)  # pages cross chunk boundaries
    log = AuditLog(store, maxlen=1000)
    for i in range(11):
        log.append(entry_fields(by="admin", role="admin", action=f"a{i}"))
    seen = []
    for page in range(1, 5):
        entries, total = log.page(page, 3)
        assert total == 11
        seen += [e["action"] for e in entries]
    assert seen == [f"a{i}" for i in range(10, -1, -1)]
    assert log.page(5, 3) == ([], 11)


def test_leases_never_grant_past_the_limit(store: Store) -> None:
    """Two 'processes' leasing from one counter: grants add up to the limit exactly."""
    limits = RateLimits(store)
    limit = Limit("m", 25, 3600)
    grants = []
    for _ in range(6):
        a, _end = limits.lease_many(limit, ["k", "other"], 10)
        b, end = limits.lease_many(limit, ["k"], 10)
        grants += [a[0], b[0]]
    assert grants == [10, 10, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert end == (int(time.time() // 3600) + 1) * 3600
    counter = store.keys.rate("m", "k", int(time.time() // 3600))
    assert int(store.client.get(counter) or 0) == 25
    assert 0 < store.client.pttl(counter) / 1000 <= end - time.time() + 1
    # repeats in one call are served in order
    assert limits.lease_many(Limit("m", 3, 60), ["z", "z", "z"], 2)[0] == [2, 1, 0]
