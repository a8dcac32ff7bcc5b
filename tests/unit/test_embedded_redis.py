"""The embedded redis-server runs with AOF and the configured fsync policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from kefu.config import Settings
from kefu.persistence.embedded import EmbeddedRedis


@pytest.mark.parametrize("policy", ["everysec", "always"])
def test_aof_fsync_policy_is_the_configured_one(tmp_path: Path, policy: str) -> None:
    embedded = EmbeddedRedis(tmp_path / "redis", appendfsync=policy)
    embedded.start()
    try:
        client = redis.Redis.from_url(embedded.url, decode_responses=True)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": policy}
    finally:
        embedded.stop()


def test_the_setting_accepts_only_the_two_safe_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_REDIS_APPENDFSYNC", "always")
    assert Settings().redis_appendfsync == "always"
    monkeypatch.setenv("KEFU_REDIS_APPENDFSYNC", "no")
    with pytest.raises(ValueError, match="appendfsync"):
        Settings()
