"""System and Redis administration (seed 6.1, 6.2, 7.1–7.3) against a real server on a
shared test Redis that also holds another application's keys. The project's prefix has
glob characters (``k[t]:``), so an unescaped pattern would reach the neighbour's ``kt:``
keys. A MONITOR on that Redis proves no ``KEYS``, ``FLUSHALL`` or ``FLUSHDB`` is sent."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from kefu.persistence.key_scan import prefix_match
from tests.helpers import WS, Api, Monitor, RedisServer, ServerProcess

PREFIX = "k[t]:"
FOREIGN = {"kt:victim": "str", "kt:user:admin": "hash", "other:app": "hash", "k[t]x": "str"}
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def shared_redis(data_dir: Path) -> RedisServer:
    """A Redis that also holds another application's keys (near misses included)."""
    rs = RedisServer(data_dir).start()
    r = rs.client()
    r.set("kt:victim", "keep me")
    r.hset("kt:user:admin", "user_type", "admin")
    r.hset("other:app", mapping={"a": "1"})
    r.expire("other:app", 3600)
    r.set("k[t]x", "near miss")
    return rs


def server_on(rs: RedisServer, data_dir: Path) -> ServerProcess:
    return ServerProcess(data_dir, KEFU_REDIS_URL=rs.url, KEFU_REDIS_PREFIX=PREFIX,
                         KEFU_FAULT_INJECTION="1").start()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    rs = shared_redis(Path(tmp_path_factory.mktemp("shared")))
    yield rs
    rs.stop()


@pytest.fixture(scope="module")
def srv(shared: RedisServer,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = server_on(shared, Path(tmp_path_factory.mktemp("admin")))
    yield server
    server.stop()


@pytest.fixture()
def admin(srv: ServerProcess) -> Api:
    return Api.login(srv.base, "admin", "admin-pass")


def ours(r: redis.Redis, rates: bool = True) -> set[bytes]:
    """Our keys; ``rates=False`` leaves out the rate-limit counters (they expire when
    their minute ends, so they come and go between two reads)."""
    return {k for k in r.scan_iter(match=prefix_match(PREFIX), count=1000)
            if rates or not k.startswith(PREFIX.encode() + b"rate:")}


def neighbours(r: redis.Redis) -> dict[bytes, bytes]:
    return {k: r.dump(k) for k in r.scan_iter(count=1000) if not k.startswith(PREFIX.encode())}


ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/system/logs", None),
    ("POST", "/api/system/backup", None),
    ("GET", "/api/system/backups", None),
    ("GET", "/api/system/backups/x.ndjson.gz", None),
    ("GET", "/api/system/maintenance", None),
    ("PUT", "/api/system/maintenance", {"enabled": True}),
    ("GET", "/api/redis/status", None),
    ("POST", "/api/redis/flush", {"confirm": "FLUSH"}),
    ("GET", "/api/redis/keys", None),
]


def test_only_admins_may_call(srv: ServerProcess, admin: Api, shared: RedisServer) -> None:
    r = shared.client()
    _, kefu = admin.create_kefu()
    _, kehu = admin.guest()
    before, theirs = ours(r, rates=False), neighbours(r)
    for method, path, body in ENDPOINTS:
        assert Api(srv.base).call(method, path, body).status_code == 401, path
        assert Api(srv.base, "bogus").call(method, path, body).status_code == 401, path
        for api in (kefu, kehu):
            r403 = api.call(method, path, body)
            assert r403.status_code == 403 and r403.json()["error_code"] == 403, path
    assert ours(r, rates=False) >= before and neighbours(r) == theirs  # nothing flushed
    assert admin.ok("GET", "/api/system/maintenance")["enabled"] is False


def restarted_logged(admin: Api, timeout: float = 10.0) -> None:
    """Wait for the supervisor's ``actor_restarted`` entry: it is written on the
    supervisor's thread after the crash reply, so re-read the log (no sleeping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = admin.ok("GET", "/api/system/logs?level=warning&limit=10")["logs"]
        if any(e["event"] == "actor_restarted" for e in logs):
            return
    raise AssertionError("no actor_restarted entry")


def test_logs_are_the_servers_real_events(srv: ServerProcess, admin: Api) -> None:
    admin.ok("POST", "/api/system/actors/dispatcher:main/crash")
    restarted_logged(admin)
    everything = admin.ok("GET", "/api/system/logs?limit=1000")
    logs = everything["logs"]
    assert everything["total"] == len(logs) and everything["has_more"] is False
    for e in logs:
        assert set(e) == {"id", "level", "actor", "event", "fields", "timestamp"}
        assert isinstance(e["fields"], dict) and ISO_MS.match(e["timestamp"])
    ids = [tuple(map(int, e["id"].split("-"))) for e in logs]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert any(e["actor"] == "server" and e["event"] == "started" for e in logs)
    restart = next(e for e in logs if e["event"] == "actor_restarted")
    assert restart["actor"] == "dispatcher:main" and restart["level"] == "warning"
    assert "InjectedFault" in restart["fields"]["error"]

    warned = admin.ok("GET", "/api/system/logs?level=warning")["logs"]
    assert warned and {e["level"] for e in warned} <= {"warning", "error"}
    assert restart["id"] in {e["id"] for e in warned}
    assert all(e["level"] == "error"
               for e in admin.ok("GET", "/api/system/logs?level=error")["logs"])
    info = admin.ok("GET", "/api/system/logs?level=info&limit=1000")["logs"]
    assert len(info) == len(logs)  # nothing below info is logged here

    since = admin.ok("GET", f"/api/system/logs?since={restart['timestamp']}")["logs"]
    assert restart["id"] in {e["id"] for e in since}
    assert all(e["timestamp"] >= restart["timestamp"] for e in since)
    assert admin.ok("GET", "/api/system/logs?since=2999-01-01T00:00:00Z")["logs"] == []
    old = admin.ok("GET", "/api/system/logs?since=0001-01-01T00:00:00%2B14:00&limit=1000")
    assert len(old["logs"]) >= len(logs)
    one = admin.ok("GET", "/api/system/logs?limit=1")
    assert one["total"] == 1 and one["has_more"] is True and one["logs"][0] == logs[0]

    for bad in ("limit=0", "limit=1001", "limit=x", "level=fatal", "since=yesterday"):
        r = admin.call("GET", f"/api/system/logs?{bad}")
        assert r.status_code == 400 and "details" in r.json(), bad


def test_redis_status_summarises_info(admin: Api, shared: RedisServer) -> None:
    data = admin.ok("GET", "/api/redis/status")
    for name in ("redis_version", "used_memory_human", "used_memory_peak_human", "role"):
        assert isinstance(data[name], str) and data[name], name
    for name in ("uptime_in_seconds", "connected_clients", "instantaneous_ops_per_sec"):
        assert isinstance(data[name], int), name
    assert isinstance(data["aof_enabled"], bool) and data["aof_enabled"] is False
    assert data["role"] == "master" and data["prefix"] == PREFIX
    assert data["connected"] is True and data["latency_ms"] >= 0
    r = shared.client()
    assert data["prefix_keys"] == len(ours(r))  # our keys only, not the neighbour's
    assert data["keyspace"]["db"] == 0
    assert data["keyspace"]["keys"] >= data["prefix_keys"] + len(FOREIGN)


def test_keys_scan_inside_the_prefix_with_a_cursor(admin: Api, shared: RedisServer) -> None:
    r = shared.client()
    pipe = r.pipeline(transaction=False)
    for i in range(1200):
        pipe.set(f"{PREFIX}probe:{i}", i)
    pipe.execute()
    r.hset(f"{PREFIX}probe:h", "a", "1")
    r.expire(f"{PREFIX}probe:h", 500)

    seen: list[str] = []
    cursor = "0"
    while True:
        page = admin.ok("GET", f"/api/redis/keys?pattern=probe:*&cursor={cursor}&limit=200")
        assert page["total_returned"] == len(page["keys"]) <= 200
        seen += [k["key"] for k in page["keys"]]
        cursor = page["cursor"]
        if cursor == "0":
            break
    assert set(seen) == {f"{PREFIX}probe:{i}" for i in range(1200)} | {f"{PREFIX}probe:h"}

    big = admin.ok("GET", "/api/redis/keys?pattern=probe:*&count=1000")
    assert 0 < big["total_returned"] <= 1000 and big["cursor"] != "0"
    default = admin.ok("GET", "/api/redis/keys?pattern=probe:*")
    assert default["total_returned"] <= 100 and default["prefix"] == PREFIX
    h = admin.ok("GET", "/api/redis/keys?pattern=probe:h")["keys"]
    assert h == [{"key": f"{PREFIX}probe:h", "type": "hash", "ttl": h[0]["ttl"]}]
    assert 0 < h[0]["ttl"] <= 500
    full = admin.ok("GET", f"/api/redis/keys?pattern={PREFIX}probe:h")  # a pasted full name
    assert [k["key"] for k in full["keys"]] == [f"{PREFIX}probe:h"]

    everything: list[str] = []
    cursor = "0"
    while True:
        page = admin.ok("GET", f"/api/redis/keys?cursor={cursor}&limit=1000")
        everything += [k["key"] for k in page["keys"]]
        cursor = page["cursor"]
        if cursor == "0":
            break
    assert everything and all(k.startswith(PREFIX) for k in everything)
    assert not set(FOREIGN) & set(everything)
    assert {k.encode() for k in everything} <= ours(r)

    for bad in ("limit=1001", "count=0", "cursor=abc", "cursor=-1",
                "cursor=99999999999999999999", "pattern=probe%5C", "pattern=%5Babc",
                "pattern=" + "x" * 201):
        resp = admin.call("GET", f"/api/redis/keys?{bad}")
        assert resp.status_code == 400 and "details" in resp.json(), bad


def test_backup_reply_and_file(admin: Api, srv: ServerProcess, shared: RedisServer) -> None:
    r = shared.client()
    with r.pipeline() as pipe:  # a thousand keys of this test's own (nothing left by others)
        for i in range(1000):
            pipe.set(f"{PREFIX}bk:{i}", i)
        pipe.execute()
    before = ours(r, rates=False)
    data = admin.ok("POST", "/api/system/backup")
    assert set(data) >= {"name", "size_bytes", "key_count", "created_at", "path"}
    path = Path(data["path"])
    assert path.parent == (srv.data_dir / "backups").resolve() and path.is_file()
    assert data["size_bytes"] == path.stat().st_size and data["key_count"] >= len(before)
    assert data["consistent"] is True and data["created_at"].endswith("Z")
    listed = admin.ok("GET", "/api/system/backups")["backups"]
    assert data["name"] in [b["name"] for b in listed]
    from kefu.persistence.backup import entries  # noqa: PLC0415

    keys = [e["key"] for e in entries(path)]
    assert len(keys) == data["key_count"] and all(k.startswith(PREFIX) for k in keys)
    assert {k.decode() for k in before} <= set(keys)
    logged = admin.ok("GET", "/api/system/logs?limit=20")["logs"]
    assert any(e["event"] == "backup_created" and e["fields"]["name"] == data["name"]
               and e["fields"]["by"] == "admin" for e in logged)


@pytest.fixture()
def flushed(tmp_path: Path) -> Iterator[tuple[ServerProcess, RedisServer]]:
    """A server and shared Redis of a flushing test's own: a flush empties the log and the
    users that the module's other tests read (they must not depend on order)."""
    rs = shared_redis(tmp_path / "shared")
    server = server_on(rs, tmp_path / "srv")
    yield server, rs
    server.stop()
    rs.stop()


def test_no_keys_flushall_or_flushdb_is_ever_sent(
        flushed: tuple[ServerProcess, RedisServer]) -> None:
    srv, shared = flushed  # it flushes: a server of its own
    admin = Api.login(srv.base, "admin", "admin-pass")
    with Monitor(shared) as mon:
        admin.ok("GET", "/api/redis/status")
        page = admin.ok("GET", "/api/redis/keys?pattern=probe:*&limit=50")
        admin.ok("GET", f"/api/redis/keys?pattern=probe:*&limit=50&cursor={page['cursor']}")
        admin.ok("GET", "/api/redis/keys")
        admin.ok("POST", "/api/system/backup")
        admin.ok("GET", "/api/system/backups")
        admin.ok("GET", "/api/system/logs?level=warning")
        admin.ok("POST", "/api/redis/flush", {"confirm": "FLUSH"})
        canary = shared.client(db=9)  # proof that the monitor would see them
        canary.keys("canary*")
        canary.flushdb()
    forbidden = {"KEYS", "FLUSHALL", "FLUSHDB"}
    assert {"KEYS", "FLUSHDB"} <= mon.names(9)
    assert not mon.names(0) & forbidden, sorted(mon.names(0))
    # (MONITOR hides admin commands such as CLIENT PAUSE; the backup test covers it)
    assert {"SCAN", "DUMP", "PTTL", "UNLINK", "INFO", "XREVRANGE"} <= mon.names(0)
    scans = [c for d, c in mon.commands if c.upper().startswith("SCAN ")]
    assert scans and all(" MATCH k\\\\[t\\\\]:" in c for c in scans), scans[:3]


def test_flush_deletes_only_our_keys_and_keeps_the_admins(
        flushed: tuple[ServerProcess, RedisServer]) -> None:
    srv, shared = flushed
    admin = Api.login(srv.base, "admin", "admin-pass")
    r = shared.client()
    kefu_id, kefu = admin.create_kefu()
    admin.ok("POST", "/api/users/create", {"id": "ops", "name": "运维", "user_type": "admin",
                                           "password": "ops-pass"})
    ops = Api.login(srv.base, "ops", "ops-pass")
    _, kehu = admin.guest()
    for body in (None, {}, {"confirm": "flush"}, {"confirm": True},
                 {"confirm": "FLUSH", "also": 1}):
        resp = admin.call("POST", "/api/redis/flush", body)
        assert resp.status_code == 400, body
    theirs = neighbours(r)
    before, with_rates = ours(r, rates=False), ours(r)

    data = admin.ok("POST", "/api/redis/flush", {"confirm": "FLUSH"})
    # every key but the kept ones (rate counters may expire meanwhile)
    assert len(before) - data["kept"] <= data["deleted"] <= len(with_rates) - data["kept"]
    assert data["prefix"] == PREFIX
    assert neighbours(r) == theirs
    assert 0 < r.ttl("other:app") <= 3600
    left = {k.decode()[len(PREFIX):] for k in ours(r)}
    allowed = re.compile(r"^(user:(admin|ops)(:tokens)?|token:.+|users|log|maintenance|audit)$")
    assert all(allowed.match(k) for k in left), left
    assert set(r.zrange(f"{PREFIX}users", 0, -1)) == {b"admin", b"ops"}

    assert admin.ok("GET", "/api/redis/status")["prefix_keys"] == len(ours(r))
    assert ops.ok("GET", "/api/system/backups") is not None
    assert kefu.call("GET", f"/api/users/{kefu_id}").status_code == 401
    assert kehu.call("GET", "/api/system/maintenance").status_code == 401  # token gone
    assert Api(srv.base).call("POST", "/api/auth/login",
                              {"user_id": kefu_id, "password": "pw"}).status_code == 401
    audit = admin.ok("GET", "/api/system/logs?level=warning&limit=1")["logs"][0]
    assert audit["event"] == "redis_flush" and audit["actor"] == "admin"
    assert audit["fields"]["by"] == "admin" and audit["fields"]["deleted"] == data["deleted"]

    # the actors were reset with the data: service works from a clean slate
    assert admin.ok("GET", "/api/system/health")["status"] == "healthy"
    assert admin.ok("GET", "/api/kefu/waiting")["waiting_customers"] == []
    _, kefu2 = admin.create_kefu()
    k = WS(srv.ws_url, kefu2.token)
    k.expect("hello")
    _, kehu2 = admin.guest()
    c = WS(srv.ws_url, kehu2.token)
    c.expect("hello")
    c.send(type="message", client_msg_id="after-flush", content="你好")
    assert c.expect("ack")["message"]["seq"] == 1
    c.close()
    k.close()


# --- pure helpers (no server) ---------------------------------------------------------


def test_prefix_is_a_literal_inside_every_pattern() -> None:
    from kefu.persistence.key_scan import check_pattern, glob_escape  # noqa: PLC0415

    assert glob_escape("k[t]:*?\\") == "k\\[t\\]:\\*\\?\\\\"
    assert prefix_match("k[t]:", "user:*") == "k\\[t\\]:user:*"
    assert check_pattern("k[t]:session:*", "k[t]:") == "session:*"  # pasted full name
    assert check_pattern("", "kefu:") == "*"
    assert check_pattern("user:[ab]*", "kefu:") == "user:[ab]*"
    assert check_pattern("a\\[b", "kefu:") == "a\\[b"
    for bad in ("a\\", "[ab", "[a[b]]", "x\x07", "y" * 201):
        with pytest.raises(ValueError):
            check_pattern(bad, "kefu:")
