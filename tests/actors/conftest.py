"""Actor-test fixtures: a real ``redis-server`` (one per test session, on a unix socket),
a fresh database per test, runtimes built the way ``kefu/server.py`` builds them, and a
check that no actor and no writer thread outlives its test."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
import redis

from kefu.assembly import actor_system
from kefu.config import Settings
from kefu.domain import UserType
from kefu.persistence.redis import Store
from kefu.persistence.users import UserStore
from kefu.testing.processes import RedisProcess
from tests.actors.support import Kit, RecordingOutbox

MakeRuntime = Callable[..., Kit]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away ``redis-server`` on a unix socket (kefu.testing); yields its URL."""
    rs = RedisProcess(Path(tmp_path_factory.mktemp("actors-redis"))).start()
    yield f"{rs.url}?db=0"
    rs.stop()


@pytest.fixture()
def redis_url(redis_server: str) -> Iterator[str]:
    """A fresh (flushed) database for this test. Only the fixture ever flushes."""
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    client.flushdb()
    yield redis_server
    client.close()


def _settings(tmp_path: Path, url: str, overrides: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {"data_dir": tmp_path, "redis_url": url,
                            "assign_strategy": "least_loaded", "agent_grace_seconds": 60.0,
                            "restart_intensity": 5, "restart_period": 60.0,
                            "session_idle_seconds": 1800.0}
    base.update(overrides)
    return Settings(**base)


@pytest.fixture()
def make_runtime(redis_url: str, tmp_path: Path) -> Iterator[MakeRuntime]:
    """Build and start a runtime with ``kefu.assembly.actor_system``, as the server does.
    ``kefu`` maps kefu ids to their ``max_sessions`` and creates those users *before* the
    system starts (the dispatcher loads kefu users at start). Every kit built is stopped
    at teardown."""
    kits: list[Kit] = []

    def build(kefu: dict[str, int] | None = None, outbox: RecordingOutbox | None = None,
              **overrides: Any) -> Kit:
        settings = _settings(tmp_path, redis_url, overrides)
        assert settings.redis_url is not None
        stack = contextlib.ExitStack()
        store = Store(settings.redis_url, settings.redis_prefix)
        stack.callback(store.close)
        users = UserStore(store, settings.token_ttl_seconds)
        for kefu_id, max_sessions in (kefu or {}).items():
            users.create(name=f"客服 {kefu_id}", user_type=UserType.KEFU, user_id=kefu_id,
                         max_sessions=max_sessions)
        box = outbox or RecordingOutbox()
        rt, system = stack.enter_context(actor_system(settings, store, users, box))
        kit = Kit(rt=rt, system=system, outbox=box, store=store, users=users, stack=stack)
        kits.append(kit)
        return kit

    yield build
    for kit in reversed(kits):
        kit.stop()


@pytest.fixture(autouse=True)
def no_actor_outlives_the_test() -> Iterator[None]:
    """Runs last at teardown: fails the test if an actor or an append-log thread is alive."""
    yield
    alive = pykka.ActorRegistry.get_all()
    writers = [t for t in threading.enumerate() if t.name == "kefu-appends" and t.is_alive()]
    if alive:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
    if alive or writers:
        pytest.fail(f"left running after the test: actors {alive}, append-log threads {writers}")
