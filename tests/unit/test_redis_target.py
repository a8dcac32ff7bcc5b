"""Where Redis is (issue 13): Sentinel settings are checked at start-up, every
connection of the process is made from one :class:`RedisTarget`, and a Redis that does
not answer at start-up is one clear line and exit 1 (not a traceback)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from kefu.config import Settings, parse_sentinels
from kefu.persistence.redis_target import BlockingSentinelPool, RedisTarget
from kefu.testing.processes import KEFU_BIN, free_port


def test_sentinels_are_host_port_pairs() -> None:
    assert parse_sentinels("10.0.0.1:26379, redis-b:26380,[::1]:26381") == (
        ("10.0.0.1", 26379), ("redis-b", 26380), ("::1", 26381))
    for bad in ("", " , ", "10.0.0.1", "host:port", "host:0", "host:70000", ":26379"):
        with pytest.raises(ValueError, match="KEFU_REDIS_SENTINELS"):
            parse_sentinels(bad)


@pytest.mark.parametrize(("env", "says"), [
    ({"redis_url": "redis://a", "redis_sentinels": "b:26379"}, "not both"),
    ({"redis_sentinels": "b"}, "is not host:port"),
    ({"ack_replicas": 1}, "KEFU_ACK_REPLICAS needs a Redis with replicas"),
    ({"cluster": True}, "KEFU_CLUSTER=1 needs KEFU_REDIS_URL or KEFU_REDIS_SENTINELS"),
    ({"redis_sentinels": "b:26379", "redis_sentinel_master": ""}, "must name"),
])
def test_settings_that_cannot_work_are_refused(env: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(**env)  # type: ignore[arg-type]


def test_the_configured_target() -> None:
    assert RedisTarget.configured(Settings()) is None  # the embedded Redis
    target = RedisTarget.configured(Settings(redis_sentinels="s1:26379,s2:26379",
                                             redis_sentinel_master="kefu", cluster=True,
                                             ack_replicas=1))
    assert target is not None and target.uses_sentinel
    assert target.describe() == "sentinel://s1:26379,s2:26379/kefu"
    pool = target.pool(max_connections=4, timeout=1)
    assert isinstance(pool, BlockingSentinelPool) and pool.service_name == "kefu"
    url = RedisTarget.configured(Settings(redis_url="redis://:secret@db:6379/0"))
    assert url is not None and not url.uses_sentinel
    assert url.describe() == "redis://db:6379/0"  # no password in logs


def test_serve_exits_1_with_one_line_when_redis_does_not_answer(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    for env, says in [({"KEFU_REDIS_SENTINELS": f"127.0.0.1:{dead}"},
                       f"(sentinel://127.0.0.1:{dead}/mymaster): no sentinel names a primary "
                       "'mymaster'"),
                      ({"KEFU_REDIS_URL": f"redis://127.0.0.1:{dead}/0"},
                       f"(redis://127.0.0.1:{dead}/0): ConnectionError")]:
        done = subprocess.run(
            [KEFU_BIN, "serve"], capture_output=True, text=True, timeout=30,
            env={**os.environ, **env, "KEFU_DATA_DIR": str(tmp_path),
                 "KEFU_PORT": str(free_port()), "KEFU_REDIS_STARTUP_WAIT_SECONDS": "0.3"})
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], done.stderr
