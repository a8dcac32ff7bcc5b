"""Security-test fixtures: one real server with lowered limits and an Origin allow-list,
a client for it, and a throwaway ``redis-server`` for the persistence-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.persistence.redis import Store
from tests.helpers import Api, RedisServer, ServerProcess, running

MSG_LIMIT = 5  # chat messages per kehu per minute on the test server
LOGIN_LIMIT = 3  # failed logins per user id per window
ALLOWED = ("https://shop.example.com", "http://widget.example.org:8443")
LIMITED_ENV = {"KEFU_KEHU_MSG_RATE_PER_MINUTE": str(MSG_LIMIT),
               "KEFU_LOGIN_FAIL_LIMIT": str(LOGIN_LIMIT),
               "KEFU_LOGIN_FAIL_WINDOW_SECONDS": "3600",
               "KEFU_ALLOWED_ORIGINS": ", ".join(ALLOWED),
               "KEFU_FAULT_INJECTION": "1", "KEFU_AGENT_GRACE_SECONDS": "2"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the security tests (the fuzz test has its own, for its counts)."""
    with running(Path(tmp_path_factory.mktemp("sec")), **LIMITED_ENV) as srv:
        yield srv


@pytest.fixture()
def admin(server: ServerProcess) -> Api:
    return Api.login(server.base, "admin", "admin-pass")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    rs = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    yield rs
    rs.stop()


@pytest.fixture()
def store(redis_server: RedisServer) -> Iterator[Store]:
    """A Store on an empty database of the throwaway Redis."""
    redis_server.client().flushdb()
    s = Store(redis_server.url)
    yield s
    s.close()
