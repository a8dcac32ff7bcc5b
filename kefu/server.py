"""Start-up and shut-down, side by side (the later a part starts, the earlier it stops).

Start: data dir (0700) → embedded Redis (and its watcher) → store → bootstrap admin →
writer → actors (restored from Redis) → HTTP port → housekeeping. Stop (SIGTERM/SIGINT):
refuse new sockets, ``server_closing`` to every client, close sockets, stop sessions,
agents, dispatcher, supervisor, writer, Redis. Exit 0, or 1 when the embedded Redis died
and could not be started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import os
import resource
import secrets
import signal
import sys
from contextlib import AsyncExitStack

from tornado.ioloop import IOLoop, PeriodicCallback

from kefu.actors.handles import Registry
from kefu.actors.runtime import Runtime, frame
from kefu.actors.system import ActorSystem, build_registry
from kefu.config import Settings
from kefu.domain import UserType, iso, now
from kefu.http.app import make_app
from kefu.http.bridge import Bridge
from kefu.http.connections import Hub
from kefu.http.housekeeping import GuestSweeper
from kefu.http.http_limits import http_server
from kefu.http.state import AppState
from kefu.persistence.embedded import EmbeddedRedis
from kefu.persistence.history import History
from kefu.persistence.maintenance import load as load_maintenance
from kefu.persistence.redis import Store
from kefu.persistence.users import UserStore
from kefu.persistence.writer import Writer

log = logging.getLogger("kefu")


def tune_process(settings: Settings) -> None:
    """Raise the fd limit, ask for the global futex hash (Linux ≥ 6.16; see DESIGN) and
    set the GIL switch interval, as configured."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if settings.futex_global_hash:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(78, 1, 0, 0, 0)  # PR_FUTEX_HASH, SET_SLOTS, 0 = global; EINVAL ignored
    if settings.switch_interval is not None:
        sys.setswitchinterval(settings.switch_interval)
    # A full (gen2) collection walks every live object: at 10,000 sockets one took
    # 0.5-0.9 s, every few seconds while sockets were arriving, freeing nothing. Young
    # collections stay frequent; full ones become ~100x rarer (docs/benchmarks.md).
    gc.set_threshold(10_000, 50, 1_000)


def bootstrap_admin(settings: Settings, users: UserStore) -> None:
    """Create the ``admin`` user on first start and print its credentials once."""
    if users.get("admin") is not None:
        if settings.admin_password:
            users.set_fields("admin", **users.password_fields(settings.admin_password))
        return
    password = settings.admin_password or secrets.token_urlsafe(12)
    users.create(name="管理员", user_type=UserType.ADMIN, user_id="admin", password=password)
    path = settings.credentials_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"user_id": "admin", "password": password}, fh)
    if not settings.admin_password:
        print(f"kefu: bootstrap admin created — user_id: admin  password: {password}\n"
              f"kefu: (also written to {path}, mode 0600)", flush=True)


async def serve(settings: Settings) -> int:
    """Run the server until SIGTERM/SIGINT. Returns the exit code."""
    tune_process(settings)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)  # chat history and credentials live under it
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    exit_code = 0

    def on_signal(_signum: int, _frame: object) -> None:
        # A plain handler, not loop.add_signal_handler: under load the loop's self-pipe
        # can be full, and asyncio then loses the signal byte (seen: SIGTERM ignored).
        loop.call_soon_threadsafe(stop_event.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    def give_up() -> None:  # the Redis watcher thread
        nonlocal exit_code
        exit_code = 1
        loop.call_soon_threadsafe(stop_event.set)

    async with AsyncExitStack() as stack:
        url = settings.redis_url
        embedded = None
        if url is None:
            embedded = EmbeddedRedis(settings.redis_dir, appendfsync=settings.redis_appendfsync)
            url = embedded.start()
            stack.callback(embedded.stop)
        store = Store(url, settings.redis_prefix)
        stack.callback(store.close)
        users = UserStore(store, settings.token_ttl_seconds, settings.scrypt_n)
        bootstrap_admin(settings, users)

        hub = Hub(IOLoop.current())
        registry_box: list[Runtime] = []
        registry: Registry = build_registry(registry_box)
        rt = Runtime(settings=settings, store=store, users=users, outbox=hub, registry=registry)
        registry_box.append(rt)
        if embedded is not None:
            embedded.supervise(lambda level, event, fields: rt.event(level, "redis", event,
                                                                     **fields),
                               give_up, settings.redis_restart_tries)
        writer = Writer(store, hub, settings.dedup_ttl_seconds)
        rt.writer = writer
        writer.start()
        stack.callback(writer.stop)

        system = ActorSystem(rt)
        system.start()
        gc.freeze()  # what start-up restored lives as long as the process: never rescan it
        stack.callback(system.stop)
        bridge = Bridge(settings.ask_timeout)
        stack.callback(bridge.close)
        state = AppState(settings=settings, store=store, users=users, history=History(store),
                         bridge=bridge, hub=hub, rt=rt, system=system)
        state.maintenance = load_maintenance(store)  # before the port opens

        app = make_app(state)
        server = http_server(app, settings)
        server.listen(settings.port, settings.host)
        sweeper = GuestSweeper(state)
        sweeper.start()
        ticks = {"n": 0}

        def tick() -> None:
            ticks["n"] += 1
            system.tick(now(), ticks["n"], settings.session_tick_every)

        timer = PeriodicCallback(tick, settings.tick_seconds * 1000)
        timer.start()
        rt.event("info", "server", "started", host=settings.host, port=settings.port)
        print(f"kefu: listening on http://{settings.host}:{settings.port}", flush=True)

        await stop_event.wait()

        # shut-down, in reverse
        print("kefu: shutting down", flush=True)
        state.closing = True
        timer.stop()
        sweeper.stop()
        server.stop()
        hub.send_to_users(list(hub.by_user), frame(
            "server_closing", server_time=iso(now()), reconnect=True))
        await asyncio.sleep(0)  # let the frames be written before closing
        hub.close_all(1001, "server closing")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.close_all_connections(), 2)
        rt.event("info", "server", "stopped", exit_code=exit_code)
    return exit_code


def run(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    return asyncio.run(serve(settings))
