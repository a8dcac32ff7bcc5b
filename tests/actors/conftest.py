"""Actor-test fixtures: a real ``redis-server`` (one per test session, on a unix socket),
a fresh database per test, runtimes built the way ``kefu/server.py`` builds them, and a
check that no actor and no writer thread outlives its test."""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
import redis

from kefu.actors.runtime import Runtime
from kefu.actors.system import ActorSystem, build_registry
from kefu.config import Settings
from kefu.domain import UserType
from kefu.persistence.embedded import find_redis_server
from kefu.persistence.redis import Store
from kefu.persistence.users import UserStore
from kefu.persistence.writer import Writer
from tests.actors.support import Kit, RecordingOutbox

MakeRuntime = Callable[..., Kit]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` on a unix socket; yields its URL."""
    binary = "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() \
        else find_redis_server()
    workdir = Path(tempfile.mkdtemp(prefix="kefu-actors-"))
    sock = workdir / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(workdir), "--loglevel", "notice"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # the child's log, line by line (also keeps its pipe drained)
        for line in proc.stdout or []:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="redis-log", daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            proc.wait(5)
            shutil.rmtree(workdir, ignore_errors=True)
            pytest.fail("redis-server did not start:\n" + "".join(seen))
        seen.append(line)
        if "ready to accept connections" in line.lower():
            break
    try:
        yield f"unix://{sock}?db=0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


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
    """Build and start a runtime like ``kefu/server.py``: Store, UserStore, registry,
    Runtime, Writer (started), ActorSystem (started). ``kefu`` maps kefu ids to their
    ``max_sessions`` and creates those users *before* the system starts (the dispatcher
    loads kefu users at start). Every kit built is stopped at teardown."""
    kits: list[Kit] = []

    def build(kefu: dict[str, int] | None = None, outbox: RecordingOutbox | None = None,
              **overrides: Any) -> Kit:
        settings = _settings(tmp_path, redis_url, overrides)
        assert settings.redis_url is not None
        store = Store(settings.redis_url, settings.redis_prefix)
        users = UserStore(store, settings.token_ttl_seconds)
        for kefu_id, max_sessions in (kefu or {}).items():
            users.create(name=f"客服 {kefu_id}", user_type=UserType.KEFU, user_id=kefu_id,
                         max_sessions=max_sessions)
        box = outbox or RecordingOutbox()
        rt_ref: list[Runtime] = []
        registry = build_registry(rt_ref)
        rt = Runtime(settings=settings, store=store, users=users, outbox=box,
                     registry=registry)
        rt_ref.append(rt)
        writer = Writer(store, box, settings.dedup_ttl_seconds)
        rt.writer = writer
        writer.start()
        system = ActorSystem(rt)
        kit = Kit(rt=rt, system=system, writer=writer, outbox=box, store=store, users=users)
        kits.append(kit)
        system.start()
        # The dispatcher restores in its on_start, on its own thread: start() may return
        # before that. Wait for it, as the port must not open before the restore (DESIGN).
        kit.state()
        return kit

    yield build
    for kit in reversed(kits):
        kit.stop()


@pytest.fixture(autouse=True)
def no_actor_outlives_the_test() -> Iterator[None]:
    """Runs last at teardown: fails the test if an actor or a writer thread is alive."""
    yield
    alive = pykka.ActorRegistry.get_all()
    writers = [t for t in threading.enumerate() if t.name == "kefu-writer" and t.is_alive()]
    if alive:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
    if alive or writers:
        pytest.fail(f"left running after the test: actors {alive}, writer threads {writers}")
