"""Redis administration (seed 7.1, 7.2): an ``INFO`` summary and a flush of the project's
keys only. Blocking calls: run them through ``bridge.run_io``.

A flush keeps what the operator needs to stay in control: every admin account (its user
hash, its token set and its live tokens, and its entry in the users index) and the
maintenance flag. Everything else under the prefix goes (users, sessions, messages,
queue, statistics, the system log), by ``SCAN`` + ``UNLINK`` in batches.
"""

from __future__ import annotations

import time
from typing import Any

from kefu.persistence.key_scan import count_keys, unlink_keys
from kefu.persistence.redis import Store


def status(store: Store) -> dict[str, Any]:
    """A summary of ``INFO`` plus our key count and a PING round trip."""
    r = store.client
    started = time.perf_counter()
    r.ping()
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    info = r.info()
    db = int(r.connection_pool.connection_kwargs.get("db", 0) or 0)
    space = info.get(f"db{db}") or {}
    return {
        "connected": True,
        "redis_version": info.get("redis_version"),
        "mode": info.get("redis_mode"),
        "role": info.get("role"),
        "uptime_in_seconds": info.get("uptime_in_seconds"),
        "connected_clients": info.get("connected_clients"),
        "used_memory": info.get("used_memory"),
        "used_memory_human": info.get("used_memory_human"),
        "used_memory_peak_human": info.get("used_memory_peak_human"),
        "maxmemory_policy": info.get("maxmemory_policy"),
        "aof_enabled": bool(info.get("aof_enabled")),
        "rdb_last_save_time": info.get("rdb_last_save_time"),
        "instantaneous_ops_per_sec": info.get("instantaneous_ops_per_sec"),
        "total_commands_processed": info.get("total_commands_processed"),
        "keyspace_hits": info.get("keyspace_hits"),
        "keyspace_misses": info.get("keyspace_misses"),
        "keyspace": {"db": db, "keys": int(space.get("keys", 0)),
                     "expires": int(space.get("expires", 0)),
                     "avg_ttl": int(space.get("avg_ttl", 0))},
        "prefix": store.keys.prefix,
        "prefix_keys": count_keys(r, store.keys.prefix),
        "latency_ms": latency_ms,
    }


def admin_accounts(store: Store) -> tuple[frozenset[str], dict[str, float]]:
    """The keys a flush keeps, and each admin's score in the users index."""
    r, k = store.client, store.keys
    ids = dict(r.zrange(k.users, 0, -1, withscores=True))
    ids.setdefault("admin", time.time())  # the bootstrap admin, even if unindexed
    names = list(ids)
    admins: dict[str, float] = {}
    for i in range(0, len(names), 500):
        chunk = names[i:i + 500]
        pipe = r.pipeline(transaction=False)
        for uid in chunk:
            pipe.hget(k.user(uid), "user_type")
        for uid, kind in zip(chunk, pipe.execute(), strict=True):
            if kind == "admin":
                admins[uid] = float(ids[uid])
    keep = {k.maintenance, k.audit_log}
    for uid in admins:
        keep |= {k.user(uid), k.user_tokens(uid)}
        keep |= {k.token(t) for t in r.smembers(k.user_tokens(uid))}
    return frozenset(keep), admins


def flush(store: Store) -> dict[str, int]:
    """Delete the project's keys but the admin accounts, the maintenance flag and the
    audit log (a flush must not erase the record of who did what, itself included).

    Not atomic: a write that lands during the walk may survive it (turn maintenance on
    first). Returns ``{"deleted", "kept"}``."""
    keep, admins = admin_accounts(store)
    deleted = unlink_keys(store.client, store.keys.prefix, keep)
    if admins:
        store.client.zadd(store.keys.users, admins)
    kept = int(store.client.exists(*keep)) if keep else 0
    return {"deleted": deleted, "kept": kept}

