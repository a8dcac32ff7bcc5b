"""Backup and restore (seed 6.2, SPEC §7): backup → flush → restore gives back every key,
type and value (DUMP equality) and expiry; only the project's prefix is touched; the
dump is one point in time; the REST + CLI path does the same end to end."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from kefu.persistence import backup, key_scan
from kefu.testing.processes import KEFU_BIN
from tests.helpers import WS, Api, Monitor, RedisServer, ServerProcess

PREFIX = "b[k]:"  # glob characters: an unescaped MATCH would also take "bk:…"


@pytest.fixture()
def rs(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def populate(r: redis.Redis, prefix: str) -> None:
    r.set(f"{prefix}str", "值")
    r.set(f"{prefix}ttl", "soon gone", ex=3600)
    r.hset(f"{prefix}hash", mapping={"a": "1", "b": "二"})
    r.hset(f"{prefix}bighash", mapping={f"f{i}": "x" * 80 for i in range(300)})
    r.rpush(f"{prefix}list", *[str(i) for i in range(50)])
    r.sadd(f"{prefix}set", "a", "b", "c")
    r.sadd(f"{prefix}intset", *range(20))
    r.zadd(f"{prefix}zset", {f"m{i}": i for i in range(200)})
    for i in range(30):
        r.xadd(f"{prefix}stream", {"m": json.dumps({"seq": i})}, id=f"0-{i + 1}")
    r.xgroup_create(f"{prefix}stream", "g", id="0")
    r.xreadgroup("g", "c1", {f"{prefix}stream": ">"}, count=5)
    r.pfadd(f"{prefix}hll", "a", "b")
    r.setbit(f"{prefix}bits", 100, 1)
    r.hset(f"{prefix}ttlhash", "k", "v")
    r.pexpire(f"{prefix}ttlhash", 600_000)


def value(r: redis.Redis, key: Any) -> Any:
    """A key's type and value, independent of its in-memory encoding."""
    kind = r.type(key).decode()
    if kind == "string":
        return kind, r.get(key)
    if kind == "hash":
        return kind, r.hgetall(key)
    if kind == "list":
        return kind, r.lrange(key, 0, -1)
    if kind == "set":
        return kind, sorted(r.smembers(key))
    if kind == "zset":
        return kind, r.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        groups = [(g["name"], g["pending"], g["last-delivered-id"])
                  for g in r.xinfo_groups(key)]
        pending = [r.xpending_range(key, g[0], "-", "+", 1000) for g in groups]
        return kind, r.xrange(key), groups, [[(p["message_id"], p["consumer"]) for p in ps]
                                            for ps in pending]
    raise AssertionError(f"unexpected type {kind}")


def same_dump(r: redis.Redis, key: Any) -> bool:
    """DUMP bytes are comparable unless the value is a hash table (iteration order)."""
    return r.object("encoding", key) != b"hashtable"


def snapshot(r: redis.Redis, prefix: str) -> dict[bytes, tuple[Any, bytes | None, int]]:
    """Every key → (type and value, DUMP where its bytes are stable, PTTL)."""
    out = {}
    for batch in key_scan.scan_batches(r, prefix):
        for key in batch:
            out[key] = (value(r, key), r.dump(key) if same_dump(r, key) else None, r.pttl(key))
    return out


def foreign(r: redis.Redis) -> dict[bytes, bytes]:
    return {k: r.dump(k) for k in r.scan_iter() if not k.startswith(PREFIX.encode())}


def test_round_trip_restores_every_key_and_nothing_else(rs: RedisServer, tmp_path: Path) -> None:
    r = rs.client()
    populate(r, PREFIX)
    r.set("bk:victim", "not ours")  # matches the prefix if it were not glob-escaped
    r.hset("other:app", "x", "1")
    before, theirs = snapshot(r, PREFIX), foreign(r)

    info = backup.create(r, PREFIX, tmp_path / "backups")
    assert info["key_count"] == len(before) and info["consistent"] is True
    path = Path(info["path"])
    assert path.parent == (tmp_path / "backups").resolve()
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # holds password hashes and tokens
    assert {e["key"].encode(): e["type"] for e in backup.entries(path)} == \
        {k: v[0][0] for k, v in before.items()}  # the type, read from each DUMP payload

    assert key_scan.unlink_keys(r, PREFIX) == len(before)
    assert snapshot(r, PREFIX) == {}
    result = backup.restore(r, path, PREFIX)
    assert result["restored"] == len(before) and result["expired"] == 0

    after = snapshot(r, PREFIX)
    assert set(after) == set(before)
    for key, (val, dumped, pttl) in before.items():
        assert after[key][:2] == (val, dumped), key
        if pttl < 0:
            assert after[key][2] == pttl
        else:  # the same absolute expiry, give or take the test's own time
            assert 0 <= pttl - after[key][2] < 60_000
    assert foreign(r) == theirs


def test_restore_replaces_what_is_there_and_checks_the_file_first(rs: RedisServer,
                                                                  tmp_path: Path) -> None:
    r = rs.client()
    populate(r, PREFIX)
    path = Path(backup.create(r, PREFIX, tmp_path / "b")["path"])
    before = snapshot(r, PREFIX)
    r.set(f"{PREFIX}str", "changed")
    r.set(f"{PREFIX}new-after-backup", "x")

    with pytest.raises(backup.BackupError) as wrong_prefix:
        backup.restore(r, path, "other:")
    assert wrong_prefix.value.key == "backup_invalid"
    tampered = tmp_path / "tampered.ndjson.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines()
    tampered.write_bytes(gzip.compress(b"\n".join(lines[:-1]) + b"\n"))
    with pytest.raises(backup.BackupError):
        backup.restore(r, tampered, PREFIX)
    assert r.get(f"{PREFIX}new-after-backup") == b"x"  # nothing was touched

    backup.restore(r, path, PREFIX)
    assert {k: v[:2] for k, v in snapshot(r, PREFIX).items()} == \
        {k: v[:2] for k, v in before.items()}


def test_restore_skips_keys_whose_expiry_has_passed(rs: RedisServer, tmp_path: Path) -> None:
    r = rs.client()
    r.set(f"{PREFIX}keep", "1")
    r.set(f"{PREFIX}token", "u", ex=3600)
    path = Path(backup.create(r, PREFIX, tmp_path / "b")["path"])
    lines = [orjson.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
    for e in lines[1:]:
        if e["key"].endswith("token"):
            e["expire_at_ms"] = int(time.time() * 1000) - 1000  # as if restored too late
    aged = tmp_path / "aged.ndjson.gz"
    aged.write_bytes(gzip.compress(b"".join(orjson.dumps(e) + b"\n" for e in lines)))
    result = backup.restore(r, aged, PREFIX)
    assert (result["restored"], result["expired"]) == (1, 1)
    assert r.get(f"{PREFIX}keep") == b"1" and r.exists(f"{PREFIX}token") == 0


def test_backup_is_one_point_in_time_while_writers_run(rs: RedisServer, tmp_path: Path) -> None:
    """A writer keeps two counters equal with MULTI/EXEC; thousands of keys sit between
    them in SCAN order. Every backup must hold them equal (CLIENT PAUSE WRITE)."""
    r = rs.client()
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"{PREFIX}filler:{i}", i)
    pipe.execute()
    stop, started = threading.Event(), threading.Event()
    rounds = [0]

    def writer() -> None:
        w = rs.client()
        while not stop.is_set():
            tx = w.pipeline(transaction=True)
            tx.incr(f"{PREFIX}a")
            tx.incr(f"{PREFIX}b")
            tx.execute()
            rounds[0] += 1
            started.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        paths = [Path(backup.create(r, PREFIX, tmp_path / "b")["path"]) for _ in range(3)]
    finally:
        stop.set()
        thread.join(10)
    assert rounds[0] > 0
    for path in paths:
        values = {e["key"]: e["dump"] for e in backup.entries(path)
                  if e["key"] in (f"{PREFIX}a", f"{PREFIX}b")}
        assert len(values) == 2
        target = rs.client(db=1)  # restore elsewhere and read the two counters back
        backup.restore(target, path, PREFIX)
        assert int(target.get(f"{PREFIX}a")) == int(target.get(f"{PREFIX}b")) > 0


def test_a_dump_that_outlives_the_pause_is_discarded(rs: RedisServer, tmp_path: Path) -> None:
    r = rs.client()
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"{PREFIX}filler:{i}", i)
    pipe.execute()
    with pytest.raises(backup.BackupError) as slow:
        backup.create(r, PREFIX, tmp_path / "b", pause_ms=1)
    assert slow.value.key == "backup_too_slow"
    assert list((tmp_path / "b").iterdir()) == []  # no file, no temporary left behind
    started = time.monotonic()
    backup.create(r, PREFIX, tmp_path / "b")
    r.set(f"{PREFIX}after", "1")  # writes flow again at once: the pause was lifted
    assert time.monotonic() - started < 3


# --- end to end: REST + CLI -----------------------------------------------------------


def cli(srv: ServerProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KEFU_BIN, *args], env={**srv.full_env, **env}, capture_output=True,
                          text=True, timeout=60)


def chat(srv: ServerProcess, admin: Api) -> tuple[str, str]:
    """A kefu and a kehu exchange messages: sessions, streams, indexes, statistics."""
    kefu_id, kefu = admin.create_kefu()
    k = WS(srv.ws_url, kefu.token)
    k.expect("hello")
    _, kehu = admin.guest("客户甲")
    c = WS(srv.ws_url, kehu.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="m1", content="你好")
    sid = c.expect("ack")["message"]["session_id"]
    k.send(type="message", session_id=sid, client_msg_id="r1", content="您好")
    k.expect("ack")
    c.close()
    k.close()
    return kefu_id, sid


def stored_dumps(r: redis.Redis, prefix: str) -> dict[str, bytes]:
    return {k.decode(): r.dump(k) for batch in key_scan.scan_batches(r, prefix) for k in batch}


def test_rest_backup_flush_and_cli_restore(rs: RedisServer, tmp_path: Path) -> None:
    prefix = "e2e:"
    r = rs.client()
    r.set("neighbour:key", "stays")
    srv = ServerProcess(tmp_path / "srv", KEFU_REDIS_URL=rs.url, KEFU_REDIS_PREFIX=prefix)
    srv.start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        kefu_id, sid = chat(srv, admin)

        made = cli(srv, "backup")
        assert made.returncode == 0, made.stdout + made.stderr
        info = json.loads(made.stdout)["data"]
        path = Path(info["path"])
        assert path.parent == (tmp_path / "srv" / "backups").resolve()
        assert info["name"] == path.name and info["size_bytes"] == path.stat().st_size
        listed = admin.ok("GET", "/api/system/backups")
        assert [b["name"] for b in listed["backups"]] == [info["name"]]
        assert listed["backups"][0]["key_count"] == info["key_count"]
        got = admin.call("GET", f"/api/system/backups/{info['name']}")
        assert got.status_code == 200 and got.content == path.read_bytes()
        assert "attachment" in got.headers["Content-Disposition"]
        for bad in ("..%2Fadmin-credentials", "%2Fetc%2Fpasswd", ".hidden.ndjson.gz"):
            assert admin.call("GET", f"/api/system/backups/{bad}").status_code in (400, 404)
        assert admin.call("GET", "/api/system/backups/nope.ndjson.gz").status_code == 404

        refused = cli(srv, "restore", str(path))
        assert refused.returncode != 0 and "stop it" in refused.stdout

        admin.ok("POST", "/api/redis/flush", {"confirm": "FLUSH"})
        assert admin.call("GET", f"/api/sessions/{sid}").status_code == 404
    finally:
        srv.stop()

    with Monitor(rs) as mon:
        restored = cli(srv, "restore", str(path))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert not mon.names(0) & {"KEYS", "FLUSHALL", "FLUSHDB"}
    assert {"SCAN", "UNLINK", "RESTORE"} <= mon.names(0)
    outcome = json.loads(restored.stdout)["data"]
    # a key whose TTL ran out since the backup (a rate-limit window that closed at the
    # minute's end) is counted, not restored
    assert outcome["restored"] + outcome["expired"] == info["key_count"]
    assert outcome["expired"] <= 3, outcome

    # the file's own keys, RESTOREd in a scratch database, against what is now stored
    gone = time.time() * 1000
    expected = {e["key"]: base64.b64decode(e["dump"]) for e in backup.entries(path)
                if e.get("expire_at_ms") is None or e["expire_at_ms"] > gone + 1000}
    scratch = rs.client(db=2)
    for key, blob in expected.items():
        scratch.restore(key, 0, blob)
    log_key = f"{prefix}log"
    assert set(expected) <= set(stored_dumps(r, prefix)) <= {
        e["key"] for e in backup.entries(path)}
    for key in expected:
        if key == log_key:
            continue
        assert value(r, key) == value(scratch, key), key
        if same_dump(r, key):
            assert r.dump(key) == expected[key], key
    # the log is the backup's, plus one entry: the restore itself
    after_entries = r.xrange(log_key)
    assert after_entries[:-1] == scratch.xrange(log_key)
    assert after_entries[-1][1][b"event"] == b"backup_restored"
    assert r.get("neighbour:key") == b"stays"

    srv.start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        page = admin.ok("GET", f"/api/sessions/{sid}/messages")
        assert [m["content"] for m in page["messages"]] == ["你好", "您好"]
        kefu = Api.login(srv.base, kefu_id, "pw")
        assert kefu.ok("GET", f"/api/sessions/{sid}")["session"]["kefu_id"] == kefu_id
    finally:
        srv.stop()


def test_cli_restore_into_the_embedded_redis(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "srv").start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        before, _ = admin.create_kefu()
        made = cli(srv, "backup")
        assert made.returncode == 0, made.stderr
        path = json.loads(made.stdout)["data"]["path"]
        after, _ = admin.create_kefu()
        assert cli(srv, "restore", path).returncode != 0  # the server is running
    finally:
        srv.stop()
    done = cli(srv, "restore", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not os.path.exists(tmp_path / "srv" / "redis" / "redis.pid") or \
        _dead(tmp_path / "srv" / "redis" / "redis.pid")  # the embedded Redis was stopped
    srv.start()
    try:
        admin = Api.login(srv.base, "admin", "admin-pass")
        assert admin.call("GET", f"/api/users/{before}").status_code == 200
        assert admin.call("GET", f"/api/users/{after}").status_code == 404
    finally:
        srv.stop()


def _dead(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return True
    return False

