"""Where Redis is (issue 13): Sentinel settings are checked at start-up, and every
connection of the process is made from one :class:`RedisTarget`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kefu.config import Settings, parse_sentinels
from kefu.persistence.redis_target import BlockingSentinelPool, RedisTarget


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
